"""Rule script: linear-probe accuracy of one cell (C chosen on validation), per embedding."""

from fmeval.classify.evaluate import fit_linear_probe
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    fit_linear_probe,
    threads=snakemake.threads,
    embeddings=snakemake.input.embeddings,
    cs=snakemake.params.cs,
    val_fraction=snakemake.params.val_fraction,
    seed=snakemake.params.seed,
    max_iter=snakemake.params.max_iter,
    tol=snakemake.params.tol,
    linear_method=snakemake.params.linear_method,
    protocol=snakemake.params.protocol,
    table=snakemake.output.table,
    predictions=snakemake.output.predictions,
    confusion=snakemake.output.confusion,
)
