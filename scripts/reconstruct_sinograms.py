"""Rule script: the reconstructions of one (method, views, noise) cell."""

from fmeval.ct.reconstruction import run_reconstruction
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    run_reconstruction,
    threads=snakemake.threads,  # noqa: F821
    method=snakemake.wildcards.method,  # noqa: F821
    sinograms=snakemake.input.sinograms,  # noqa: F821
    operator=snakemake.input.operator,  # noqa: F821
    views=int(snakemake.wildcards.views),  # noqa: F821
    noise=snakemake.wildcards.noise,  # noqa: F821
    gain=snakemake.params.gain,  # noqa: F821
    sigma=snakemake.params.sigma,  # noqa: F821
    options=snakemake.params.options,  # noqa: F821
    ram_manifest=snakemake.input.get("ram"),  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    batch_size=snakemake.params.batch_size,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
    images_out=snakemake.output.images,  # noqa: F821
    meta_out=snakemake.output.meta,  # noqa: F821
)
