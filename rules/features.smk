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
        "../scripts/run_rule.py"


# --- feature taps and image transforms (issue 25) ------------------------------------
# The same features under another tap (blocks, final norm: fmeval.features.taps) and image
# transform (fmeval.features.transforms): both name the files, so variants coexist and are
# never mixed up. Rules ask for them through features_of(tap, transform) (rules/common.smk);
# the default (last-raw, tutorial5) is extract_features above, its path unchanged.


# extract_features' inputs, resources, params (these add theirs) and function
use rule extract_features as extract_features_variant with:
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
    params:
        tap=lambda wildcards: wildcards.tap,
        transform=lambda wildcards: wildcards.transform,


# --- sharded extraction (issue 27) ---------------------------------------------------
# features.shards = n > 0: each segmentation cell is n jobs, one per shard of its images
# (fmeval.features.shards; the paths and helpers are in rules/common.smk). The manifest is
# ancient: a rewritten one reruns only the shards whose images (params) changed.


rule extract_feature_shard:
    input:
        dataset_manifest=ancient(rules.download_dataset.output.manifest),
        model_manifest=rules.fetch_model.output.manifest,
    output:
        patches=FEATURE_SHARD["patches"],
        cls=FEATURE_SHARD["cls"],
    log:
        "logs/features/{dataset}/{model}/{res}.shards{shards}/{shard}.log",
    benchmark:
        "benchmarks/features/{dataset}/{model}/{res}.shards{shards}/{shard}.tsv"
    wildcard_constraints:
        dataset=_alternatives(DATASETS),
        shards=r"[1-9]\d*",
        shard=r"\d+",
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        precision=config["precision"],
        storage=config["feature_storage"],
        images=get_shard_images,
    script:
        "../scripts/run_rule.py"
