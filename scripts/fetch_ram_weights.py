"""Rule script: make the RAM weights available offline and write their manifest."""

from fmeval.ct.ramweights import fetch_ram_weights
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    fetch_ram_weights,
    weights=snakemake.params.weights,  # noqa: F821
    cache_dir=snakemake.params.cache_dir,  # noqa: F821
    out=snakemake.output.manifest,  # noqa: F821
)
