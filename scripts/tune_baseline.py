"""Rule script: the tuned options of one baseline at one (views, noise) cell."""

from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tuning import run_tuning
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    run_tuning,
    threads=snakemake.threads,
    method=snakemake.wildcards.method,
    phantoms=snakemake.input.phantoms,
    operator=snakemake.input.operator,
    matrix=snakemake.input.matrix,
    views=int(snakemake.wildcards.views),
    noise=NoiseLevel(**snakemake.params.noise),
    options=snakemake.params.options,
    search=snakemake.params.search,
    seed=snakemake.params.seed,
    batch_size=snakemake.config["batch_size"],  # an execution setting: reruns nothing
    tuning=snakemake.output.tuning,
)
