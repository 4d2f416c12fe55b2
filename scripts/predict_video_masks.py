"""Rule script: every frame's mask of every sequence, by one method (propagate or classifier)."""

from fmeval.logs import run_logged
from fmeval.video.prediction import run_prediction

run_logged(
    snakemake.log[0],
    run_prediction,
    threads=snakemake.threads,
    features=snakemake.input.features,
    dataset_manifest=snakemake.input.dataset_manifest,
    method=snakemake.wildcards.method,
    options=snakemake.params.options,
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    masks=snakemake.output.masks,
)
