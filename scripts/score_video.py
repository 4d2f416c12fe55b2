"""Rule script: J and F per frame and object (metrics.parquet) and their means (summary.json)."""

from fmeval.logs import run_logged
from fmeval.video.scores import run_scoring

run_logged(
    snakemake.log[0],
    run_scoring,
    masks=snakemake.input.masks,
    dataset_manifest=snakemake.input.dataset_manifest,
    bound_th=snakemake.params.bound_th,
    labels=snakemake.params.labels,
    metrics=snakemake.output.metrics,
    summary=snakemake.output.summary,
)
