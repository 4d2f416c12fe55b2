"""Rule script: one shard of a cell's patch and CLS features (fmeval.features.shards)."""

from fmeval.features.shards import run_shard
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    run_shard,
    threads=snakemake.threads,
    shard=int(snakemake.wildcards.shard),
    shards=int(snakemake.wildcards.shards),
    images=[name for name, _, _ in snakemake.params.images],
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
