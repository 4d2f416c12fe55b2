rule extract_features:
    input:
        dataset="resources/datasets/{dataset}/manifest.json",
        model="resources/models/{model}.json",
    output:
        patches="results/features/{dataset}/{model}/{res}.parquet",
        cls="results/features/{dataset}/{model}/{res}.cls.parquet",
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
        batch_size=config["batch_size"],
        device=config["device"],
    script:
        "../scripts/extract_features.py"
