"""Rule script: segment one test image with the fitted probe."""

from fmeval.logs import run_logged
from fmeval.seg.segment import run_segmentation

run_logged(
    snakemake.log[0],
    run_segmentation,
    features=snakemake.input.features,
    probe=snakemake.input.probe,
    dataset_manifest=snakemake.input.dataset_manifest,
    image=snakemake.wildcards.image,
    median_filter=snakemake.params.median_filter,
    threshold=snakemake.params.threshold,
    png=snakemake.output.png,
    scores=snakemake.output.scores,
)
