# Patch and CLS features of every (dataset, model, resolution), cached as Parquet.


rule extract_features:
    input:
        dataset_manifest=rules.download_dataset.output.manifest,
        model_manifest=rules.fetch_model.output.manifest,
    output:
        patches=FEATURE_DEFAULT["patches"],
        cls=FEATURE_DEFAULT["cls"],
    log:
        "logs/features/{dataset}/{model}/{res}.log",
    benchmark:
        "benchmarks/features/{dataset}/{model}/{res}.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        precision=config["precision"],
        storage=config["feature_storage"],
    script:
        "../scripts/extract_features.py"


# --- feature taps and image transforms (issue 25) ------------------------------------
# The same features under another tap (blocks, final norm: fmeval.features.taps) and image
# transform (fmeval.features.transforms): both name the files, so variants coexist and are
# never mixed up. Rules ask for them through features_of(tap, transform) (rules/common.smk);
# the default (last-raw, tutorial5) is extract_features above, its path unchanged.


rule extract_features_variant:
    input:
        dataset_manifest=rules.download_dataset.output.manifest,
        model_manifest=rules.fetch_model.output.manifest,
    output:
        patches=FEATURE_VARIANT["patches"],
        cls=FEATURE_VARIANT["cls"],
    log:
        "logs/features/{dataset}/{model}/{res}/{transform}/{tap}.log",
    benchmark:
        "benchmarks/features/{dataset}/{model}/{res}/{transform}/{tap}.tsv"
    wildcard_constraints:
        transform=_alternatives(TRANSFORM_NAMES),
        tap=TAP_PATTERN,
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        precision=config["precision"],
        storage=config["feature_storage"],
        tap=lambda wildcards: wildcards.tap,
        transform=lambda wildcards: wildcards.transform,
    script:
        "../scripts/extract_features.py"
