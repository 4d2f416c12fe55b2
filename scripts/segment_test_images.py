"""Rule script: score map, mask, triptych and held-out scores of one test image."""

from fmeval.logs import run_logged
from fmeval.seg.segment import run_segmentation

run_logged(
    snakemake.log[0],  # noqa: F821
    run_segmentation,
    features=snakemake.input.patches,  # noqa: F821
    probe=snakemake.input.probe,  # noqa: F821
    dataset_manifest=snakemake.input.dataset,  # noqa: F821
    image=snakemake.wildcards.image,  # noqa: F821
    median_filter=snakemake.params.median_filter,  # noqa: F821
    threshold=snakemake.params.threshold,  # noqa: F821
    png_out=snakemake.output.png,  # noqa: F821
    scores_out=snakemake.output.scores,  # noqa: F821
)
