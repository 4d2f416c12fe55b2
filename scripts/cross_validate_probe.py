"""Rule script: leave-one-image-out CV of the foreground probe over the C grid."""

from fmeval.logs import run_logged
from fmeval.seg.probe import run_cross_validation

run_logged(
    snakemake.log[0],  # noqa: F821
    run_cross_validation,
    threads=snakemake.threads,  # noqa: F821
    features=snakemake.input.patches,  # noqa: F821
    cs=list(snakemake.params.cs),  # noqa: F821
    fg_threshold=snakemake.params.fg_threshold,  # noqa: F821
    bg_threshold=snakemake.params.bg_threshold,  # noqa: F821
    max_iter=snakemake.params.max_iter,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
    table_out=snakemake.output.table,  # noqa: F821
    summary_out=snakemake.output.summary,  # noqa: F821
)
