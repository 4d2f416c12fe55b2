"""Rule script: patch and CLS features of one (dataset, model, res[, transform, tap]) as Parquet."""

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
    precision=snakemake.params.precision,
    storage=snakemake.params.storage,
    batch_size=snakemake.config["batch_size"],  # an execution setting: reruns nothing
    device=snakemake.config["device"],  # an execution setting: reruns nothing
    patches=snakemake.output.patches,
    cls=snakemake.output.cls,
    # extract_features_variant names a tap and a transform (issue 25); extract_features not
    **{k: snakemake.params[k] for k in ("tap", "transform") if hasattr(snakemake.params, k)},
)
