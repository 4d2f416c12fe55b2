"""Rule script: last-layer CLS attention per head of every test image of one cell."""

from fmeval.logs import run_logged
from fmeval.seg.attention import render_attention

run_logged(
    snakemake.log[0],
    render_attention,
    threads=snakemake.threads,
    model_manifest=snakemake.input.model_manifest,
    dataset_manifest=snakemake.input.dataset_manifest,
    dataset=snakemake.wildcards.dataset,
    res=int(snakemake.wildcards.res),
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    folder=snakemake.output.folder,
)
