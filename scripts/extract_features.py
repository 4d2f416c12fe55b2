"""Rule script: patch and CLS features of one (dataset, model, res) as Parquet."""

from fmeval.features.extraction import run_extraction
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    run_extraction,
    threads=snakemake.threads,
    dataset_manifest=snakemake.input.dataset_manifest,
    model_manifest=snakemake.input.model_manifest,
    dataset=snakemake.wildcards.dataset,
    res=int(snakemake.wildcards.res),
    precision=snakemake.params.precision,
    batch_size=snakemake.config["batch_size"],  # an execution setting: reruns nothing
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    patches=snakemake.output.patches,
    cls=snakemake.output.cls,
)
