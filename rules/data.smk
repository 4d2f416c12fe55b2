# Fetching: both rules run on the submitting host (they need the network);
# compute jobs then read only resources/.


localrules:
    download_dataset,
    fetch_model,


rule download_dataset:
    output:
        manifest="resources/datasets/{dataset}/manifest.json",
    log:
        "logs/datasets/{dataset}.log",
    priority: 11
    conda:
        "../envs/fmeval.yaml"
    threads: get_fetch_threads()
    params:
        sources=get_dataset_params,
        out_dir=lambda wildcards, output: os.path.dirname(output.manifest),
    script:
        "../scripts/download_dataset.py"


rule fetch_model:
    output:
        manifest="resources/models/{model}.json",
    log:
        "logs/models/{model}.log",
    priority: 10
    conda:
        "../envs/fmeval.yaml"
    threads: get_fetch_threads()
    params:
        spec=get_model_entry,
        cache_dir=lambda wildcards, output: os.path.dirname(
            os.path.dirname(output.manifest)
        ),
    script:
        "../scripts/fetch_model.py"
