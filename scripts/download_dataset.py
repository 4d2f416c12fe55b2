"""Rule script: fetch, verify, extract and pair one segmentation dataset."""

from fmeval.features.datasets import download_dataset
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    download_dataset,
    name=snakemake.wildcards.dataset,  # noqa: F821
    out_dir=snakemake.params.out_dir,  # noqa: F821
    **snakemake.params.sources,  # noqa: F821
)
