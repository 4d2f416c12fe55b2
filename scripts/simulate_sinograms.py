"""Rule script: the noisy sinograms of one (views, noise) cell."""

from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import run_simulation
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    run_simulation,
    threads=snakemake.threads,
    phantoms=snakemake.input.phantoms,
    operator=snakemake.input.operator,
    views=int(snakemake.wildcards.views),
    noise=NoiseLevel(**snakemake.params.noise),
    seed=snakemake.params.seed,
    batch_size=snakemake.config["batch_size"],  # an execution setting: reruns nothing
    sinograms=snakemake.output.sinograms,
)
