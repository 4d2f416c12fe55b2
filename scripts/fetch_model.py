"""Rule script: seed the local model cache so that compute jobs need no network."""

from fmeval.features.backbones import fetch_model
from fmeval.features.models import ModelSpec
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    fetch_model,
    spec=ModelSpec.from_config(snakemake.wildcards.model, snakemake.params.spec),  # noqa: F821
    cache_dir=snakemake.params.cache_dir,  # noqa: F821
    out=snakemake.output.manifest,  # noqa: F821
)
