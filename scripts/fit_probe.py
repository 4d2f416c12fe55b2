"""Rule script: the final foreground probe at the cross-validated best C."""

from fmeval.logs import run_logged
from fmeval.seg.probe import run_fit

run_logged(
    snakemake.log[0],  # noqa: F821
    run_fit,
    threads=snakemake.threads,  # noqa: F821
    features=snakemake.input.patches,  # noqa: F821
    summary=snakemake.input.summary,  # noqa: F821
    fg_threshold=snakemake.params.fg_threshold,  # noqa: F821
    bg_threshold=snakemake.params.bg_threshold,  # noqa: F821
    max_iter=snakemake.params.max_iter,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
    probe_out=snakemake.output.probe,  # noqa: F821
)
