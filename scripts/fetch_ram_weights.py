"""Rule script: make the RAM weights available offline; write their manifest."""

from fmeval.ct.ramweights import fetch_ram_weights
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    fetch_ram_weights,
    weights=snakemake.params.weights,
    cache_dir=snakemake.params.cache_dir,
    manifest=snakemake.output.manifest,
    deadline_s=snakemake.config["downloads"]["deadline_s"],  # execution setting: no rerun
)
