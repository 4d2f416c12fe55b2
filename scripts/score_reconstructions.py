"""Rule script: PSNR and SSIM of every reconstruction against its phantom."""

from fmeval.ct.scores import run_scoring
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    run_scoring,
    phantoms=snakemake.input.phantoms,
    images=snakemake.input.images,
    metas=snakemake.input.metas,
    seed=snakemake.params.seed,
    metrics=snakemake.output.metrics,
)
