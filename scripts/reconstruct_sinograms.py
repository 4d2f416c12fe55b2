"""Rule script: the reconstructions of one (method, views, noise) cell."""

from fmeval.ct.reconstruction import run_reconstruction
from fmeval.ct.sweep import NoiseLevel
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    run_reconstruction,
    threads=snakemake.threads,
    method=snakemake.wildcards.method,
    sinograms=snakemake.input.sinograms,
    operator=snakemake.input.operator,
    matrix=snakemake.input.matrix,
    ram=snakemake.input.get("ram"),
    tuned=snakemake.input.get("tuned") or None,
    views=int(snakemake.wildcards.views),
    noise=NoiseLevel(**snakemake.params.noise),
    options=snakemake.params.options,
    seed=snakemake.params.seed,
    precision=snakemake.params.precision,
    batch_size=snakemake.config["batch_size"],  # an execution setting: reruns nothing
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    images=snakemake.output.images,
    meta=snakemake.output.meta,
)
