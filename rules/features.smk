# Patch and CLS features of every (dataset, model, resolution), cached as Parquet.


rule extract_features:
    input:
        dataset_manifest=rules.download_dataset.output.manifest,
        model_manifest=rules.fetch_model.output.manifest,
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
        precision=config["precision"],
    script:
        "../scripts/extract_features.py"
