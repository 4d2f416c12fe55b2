"""Rule script: segment every test image of one (dataset, model, res) with the fitted probe."""

from fmeval.logs import run_logged
from fmeval.seg.segment import segment_test_images

run_logged(
    snakemake.log[0],
    segment_test_images,
    features=snakemake.input.features,
    probe=snakemake.input.probe,
    dataset_manifest=snakemake.input.dataset_manifest,
    median_filter=snakemake.params.median_filter,
    threshold=snakemake.params.threshold,
    folder=snakemake.output.folder,
)
