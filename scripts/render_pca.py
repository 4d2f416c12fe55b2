"""Rule script: PCA and CLS-similarity renders of every test image of one (dataset, model, res)."""

from fmeval.logs import run_logged
from fmeval.seg.pca import render_pca

run_logged(
    snakemake.log[0],
    render_pca,
    features=snakemake.input.features,
    cls=snakemake.input.cls,
    probe=snakemake.input.probe,
    dataset_manifest=snakemake.input.dataset_manifest,
    threshold=snakemake.params.threshold,
    folder=snakemake.output.folder,
)
