"""Rule script: last-layer CLS attention per head of one test image."""

from fmeval.logs import run_logged
from fmeval.seg.attention import run_attention

run_logged(
    snakemake.log[0],
    run_attention,
    threads=snakemake.threads,
    model_manifest=snakemake.input.model_manifest,
    dataset_manifest=snakemake.input.dataset_manifest,
    dataset=snakemake.wildcards.dataset,
    image=snakemake.wildcards.image,
    res=int(snakemake.wildcards.res),
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    png=snakemake.output.png,
)
