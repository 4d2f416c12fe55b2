"""Rule script: every frame's mask of every sequence, by one method (propagate or classifier)."""

from fmeval.logs import run_logged
from fmeval.video.prediction import run_prediction

run_logged(
    snakemake.log[0],
    run_prediction,
    features=snakemake.input.features,
    dataset_manifest=snakemake.input.dataset,
    method=snakemake.wildcards.method,
    options=snakemake.params.options,
    device=snakemake.params.device,
    threads=snakemake.threads,
    masks_out=snakemake.output.masks,
)
