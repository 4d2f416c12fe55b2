"""Rule script: seed the cache with one model's code and weights; write its manifest."""

from fmeval.features.backbones import fetch_model
from fmeval.features.models import ModelSpec
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    fetch_model,
    spec=ModelSpec.from_config(snakemake.wildcards.model, snakemake.params.entry),
    cache_dir=snakemake.params.cache_dir,
    manifest=snakemake.output.manifest,
    # execution settings: changing them reruns nothing (a model has no images: no max_image_pixels)
    **{k: v for k, v in snakemake.config["downloads"].items() if k != "max_image_pixels"},
)
