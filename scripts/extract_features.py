"""Rule script: DINOv2 patch and CLS features of one (dataset, model, res) as Parquet."""

from fmeval.features.extraction import run_extraction
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    run_extraction,
    threads=snakemake.threads,  # noqa: F821
    dataset_manifest=snakemake.input.dataset,  # noqa: F821
    model_manifest=snakemake.input.model,  # noqa: F821
    dataset=snakemake.wildcards.dataset,  # noqa: F821
    res=int(snakemake.wildcards.res),  # noqa: F821
    batch_size=snakemake.params.batch_size,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
    patches_out=snakemake.output.patches,  # noqa: F821
    cls_out=snakemake.output.cls,  # noqa: F821
)
