# Fetching: both rules run on the submitting host (they need the network) and hold the
# `network` resource (the profiles allow one at a time), so that offline the first
# unreachable source stops the run with a single error; compute jobs read only resources/.


localrules:
    download_dataset,
    fetch_model,


# A checkpoint: sharded extraction (issue 27, rules/features.smk) reads each shard's images
# from the manifest it writes; nothing else asks for it, so an unsharded run plans as before.
checkpoint download_dataset:
    output:
        manifest="resources/datasets/{dataset}/manifest.json",
    log:
        "logs/datasets/{dataset}.log",
    benchmark:
        "benchmarks/datasets/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(DATASETS),
    priority: 11
    conda:
        "../envs/fmeval.yaml"
    resources:
        network=1,
    params:
        name=lambda wildcards: wildcards.dataset,
        images=get_dataset_source("images"),
        labels=get_dataset_source("labels"),
        test_images=get_dataset_source("test_images"),
        out_dir=lambda wildcards, output: os.path.dirname(output.manifest),
    script:
        "../scripts/run_rule.py"


rule fetch_model:
    input:
        unpack(get_model_weights),
    output:
        manifest="resources/models/{model}.json",
    log:
        "logs/models/{model}.log",
    benchmark:
        "benchmarks/models/{model}.tsv"
    priority: 10
    conda:
        "../envs/fmeval.yaml"
    resources:
        network=1,
    params:
        spec=get_model_spec,
        cache_dir=get_cache_dir,
    script:
        "../scripts/run_rule.py"
