"""Rule script: last-layer CLS attention maps per head of one test image (runs the backbone)."""

from fmeval.logs import run_logged
from fmeval.seg.attention import run_attention

run_logged(
    snakemake.log[0],  # noqa: F821
    run_attention,
    threads=snakemake.threads,  # noqa: F821
    model_manifest=snakemake.input.model,  # noqa: F821
    dataset_manifest=snakemake.input.dataset,  # noqa: F821
    dataset=snakemake.wildcards.dataset,  # noqa: F821
    image=snakemake.wildcards.image,  # noqa: F821
    res=int(snakemake.wildcards.res),  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
    png_out=snakemake.output.png,  # noqa: F821
)
