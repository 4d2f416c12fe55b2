# Fetching: both rules run on the submitting host (they need the network);
# compute jobs then read only resources/.


localrules:
    download_dataset,
    fetch_model,


rule download_dataset:
    output:
        manifest="resources/datasets/{dataset}/manifest.json",
    params:
        sources=get_dataset_params,
        out_dir=lambda wildcards: f"resources/datasets/{wildcards.dataset}",
    log:
        "logs/datasets/{dataset}.log",
    priority: 10
    script:
        "../scripts/download_dataset.py"


rule fetch_model:
    output:
        manifest="resources/models/{model}.json",
    params:
        spec=get_model_entry,
        cache_dir="resources",
    log:
        "logs/models/{model}.log",
    priority: 10
    script:
        "../scripts/fetch_model.py"
