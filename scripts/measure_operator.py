"""Rule script: the sparse operator of one view count (.npz) and its norm (JSON)."""

from fmeval.ct.tomography import write_operator
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    write_operator,
    threads=snakemake.threads,
    views=int(snakemake.wildcards.views),
    seed=snakemake.params.seed,
    operator=snakemake.output.operator,
    matrix=snakemake.output.matrix,
)
