# The linear foreground probe on cached features: leave-one-image-out CV over
# probe.cs, then the final fit at the best C. Never runs a backbone.


rule cross_validate_probe:
    input:
        patches=lambda wildcards: get_features(
            wildcards.dataset, wildcards.model, wildcards.res
        )["patches"],
    output:
        table="results/probe/{dataset}/{model}/{res}/cv.parquet",
        summary="results/probe/{dataset}/{model}/{res}/summary.json",
    log:
        "logs/probe/{dataset}/{model}/{res}/cv.log",
    benchmark:
        "benchmarks/probe/{dataset}/{model}/{res}/cv.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        cs=PROBE_CS,
        fg_threshold=config["probe"]["fg_threshold"],
        bg_threshold=config["probe"]["bg_threshold"],
        max_iter=config["probe"]["max_iter"],
        device=config["device"],
    script:
        "../scripts/cross_validate_probe.py"


rule fit_probe:
    input:
        patches=lambda wildcards: get_features(
            wildcards.dataset, wildcards.model, wildcards.res
        )["patches"],
        summary="results/probe/{dataset}/{model}/{res}/summary.json",
    output:
        probe="results/probe/{dataset}/{model}/{res}/probe.npz",
    log:
        "logs/probe/{dataset}/{model}/{res}/fit.log",
    benchmark:
        "benchmarks/probe/{dataset}/{model}/{res}/fit.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        fg_threshold=config["probe"]["fg_threshold"],
        bg_threshold=config["probe"]["bg_threshold"],
        max_iter=config["probe"]["max_iter"],
        device=config["device"],
    script:
        "../scripts/fit_probe.py"
