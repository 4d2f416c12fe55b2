"""Rule script: foreground and whole-image PCA renders and CLS similarity of one test image."""

from fmeval.logs import run_logged
from fmeval.seg.pca import run_pca

run_logged(
    snakemake.log[0],  # noqa: F821
    run_pca,
    features=snakemake.input.patches,  # noqa: F821
    cls=snakemake.input.cls,  # noqa: F821
    probe=snakemake.input.probe,  # noqa: F821
    dataset_manifest=snakemake.input.dataset,  # noqa: F821
    image=snakemake.wildcards.image,  # noqa: F821
    threshold=snakemake.params.threshold,  # noqa: F821
    png_out=snakemake.output.png,  # noqa: F821
    json_out=snakemake.output.info,  # noqa: F821
)
