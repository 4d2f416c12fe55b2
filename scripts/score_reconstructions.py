"""Rule script: PSNR and SSIM of every reconstruction, as one Parquet table."""

from fmeval.ct.scores import run_scoring
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    run_scoring,
    phantoms=snakemake.input.phantoms,  # noqa: F821
    images=list(snakemake.input.images),  # noqa: F821
    metas=list(snakemake.input.metas),  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    out=snakemake.output.metrics,  # noqa: F821
)
