"""Rule script: cross-validate the foreground probe over the C grid."""

from fmeval.logs import run_logged
from fmeval.seg.cv import run_cross_validation

run_logged(
    snakemake.log[0],
    run_cross_validation,
    threads=snakemake.threads,
    features=snakemake.input.features,
    cs=snakemake.params.cs,
    fg_threshold=snakemake.params.fg_threshold,
    bg_threshold=snakemake.params.bg_threshold,
    max_iter=snakemake.params.max_iter,
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    cv=snakemake.params.cv,
    folds=snakemake.params.folds,
    seed=snakemake.params.seed,
    memory_mb=snakemake.config["probe"]["memory_mb"],
    table=snakemake.output.table,
    summary=snakemake.output.summary,
)
