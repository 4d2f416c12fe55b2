"""Rule script: fetch one dataset's images, labels and test images; write its manifest."""

from fmeval.features.datasets import download_dataset
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    download_dataset,
    name=snakemake.wildcards.dataset,
    out_dir=snakemake.params.out_dir,
    images=snakemake.params.images,
    labels=snakemake.params.labels,
    test_images=snakemake.params.test_images,
    **snakemake.config["downloads"],  # execution settings: changing them reruns nothing
)
