"""Rule script: PCA and CLS-similarity renders of one test image."""

from fmeval.logs import run_logged
from fmeval.seg.pca import run_pca

run_logged(
    snakemake.log[0],
    run_pca,
    features=snakemake.input.features,
    cls=snakemake.input.cls,
    probe=snakemake.input.probe,
    dataset_manifest=snakemake.input.dataset_manifest,
    image=snakemake.wildcards.image,
    threshold=snakemake.params.threshold,
    png=snakemake.output.png,
    info=snakemake.output.info,
)
