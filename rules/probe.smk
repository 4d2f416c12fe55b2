# The linear foreground probe on cached features: CV over probe.cs (leave-one-image-out
# or k folds of images, probe.cv), then the final fit at the best C. Never runs a backbone.
# probe.memory_mb is an execution setting (the solver's chunking, not its numbers): it is
# read by the scripts from the config and sets mem_mb, and changing it reruns nothing.

# the solver's labels and iterations, the same in the CV and in the final fit
PROBE_SOLVER = {
    key: config["probe"][key] for key in ("fg_threshold", "bg_threshold", "max_iter")
}


rule cross_validate_probe:
    input:
        features=cell_features("patches"),
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
        mem_mb=config["probe"]["memory_mb"] or 4000,
    params:
        **PROBE_SOLVER,
        cs=[float(c) for c in config["probe"]["cs"]],
        cv=config["probe"]["cv"],
        folds=config["probe"]["folds"],
        seed=config["probe"]["seed"],
    script:
        "../scripts/run_rule.py"


rule fit_probe:
    input:
        features=cell_features("patches"),
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
        mem_mb=config["probe"]["memory_mb"] or 4000,
    params:
        **PROBE_SOLVER,
    script:
        "../scripts/run_rule.py"
