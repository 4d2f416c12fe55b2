"""Rule script: fetch (or point at) one classification dataset and write its manifest."""

from fmeval.classify.download import download_classification_dataset
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    download_classification_dataset,
    name=snakemake.wildcards.dataset,
    out_dir=snakemake.params.out_dir,
    **snakemake.params.entry,
    # execution settings: changing them reruns nothing; no max_image_pixels (images are not
    # decoded here)
    **{k: v for k, v in snakemake.config["downloads"].items() if k != "max_image_pixels"},
)
