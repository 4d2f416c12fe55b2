"""Rule script: the seeded operator norm of one view count, as JSON."""

from fmeval.logs import run_logged
from fmeval.tomography import write_operator

run_logged(
    snakemake.log[0],  # noqa: F821
    write_operator,
    views=int(snakemake.wildcards.views),  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
    out=snakemake.output.operator,  # noqa: F821
)
