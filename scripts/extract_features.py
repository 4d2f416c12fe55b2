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
    batch_size=snakemake.params.batch_size,
    device=snakemake.params.device,
    patches=snakemake.output.patches,
    cls=snakemake.output.cls,
)
