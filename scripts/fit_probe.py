"""Rule script: fit the final foreground probe at the best C."""

from fmeval.logs import run_logged
from fmeval.seg.fit import run_fit

run_logged(
    snakemake.log[0],
    run_fit,
    threads=snakemake.threads,
    features=snakemake.input.features,
    summary=snakemake.input.summary,
    fg_threshold=snakemake.params.fg_threshold,
    bg_threshold=snakemake.params.bg_threshold,
    max_iter=snakemake.params.max_iter,
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    memory_mb=snakemake.config["probe"]["memory_mb"],
    probe=snakemake.output.probe,
)
