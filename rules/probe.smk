# The linear foreground probe on cached features: leave-one-image-out CV over
# probe.cs, then the final fit at the best C. Never runs a backbone.


rule cross_validate_probe:
    input:
        features=rules.extract_features.output.patches,
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
        cs=[float(c) for c in config["probe"]["cs"]],
        fg_threshold=config["probe"]["fg_threshold"],
        bg_threshold=config["probe"]["bg_threshold"],
        max_iter=config["probe"]["max_iter"],
    script:
        "../scripts/cross_validate_probe.py"


rule fit_probe:
    input:
        features=rules.extract_features.output.patches,
        summary=rules.cross_validate_probe.output.summary,
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
    script:
        "../scripts/fit_probe.py"
