"""Rule script: the noisy sinograms of one (views, noise) cell."""

from fmeval.ct.tomography import run_simulation
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    run_simulation,
    threads=snakemake.threads,  # noqa: F821
    phantoms=snakemake.input.phantoms,  # noqa: F821
    operator=snakemake.input.operator,  # noqa: F821
    views=int(snakemake.wildcards.views),  # noqa: F821
    noise=snakemake.wildcards.noise,  # noqa: F821
    gain=snakemake.params.gain,  # noqa: F821
    sigma=snakemake.params.sigma,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    batch_size=snakemake.params.batch_size,  # noqa: F821
    out=snakemake.output.sinograms,  # noqa: F821
)
