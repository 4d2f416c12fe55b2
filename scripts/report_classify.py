"""Rule script: the classification report section (tables, curves, confusion, mistakes)."""

from fmeval.classify.summary import report_classify
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    report_classify,
    knn=list(snakemake.input.knn),
    linear=list(snakemake.input.linear),
    confusion=list(snakemake.input.confusion),
    predictions=list(snakemake.input.predictions),
    manifests=dict(zip(snakemake.params.datasets, snakemake.input.manifests)),
    n_misclassified=snakemake.params.misclassified,
    out=dict(snakemake.output.items()),
)
