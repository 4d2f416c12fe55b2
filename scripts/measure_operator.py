"""Rule script: the seeded operator norm of one view count, as JSON."""

from fmeval.ct.tomography import write_operator
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    write_operator,
    threads=snakemake.threads,  # noqa: F821
    views=int(snakemake.wildcards.views),  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    out=snakemake.output.operator,  # noqa: F821
)
