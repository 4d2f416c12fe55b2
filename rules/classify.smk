# Image classification probes (issue 16): weighted k-NN and a linear probe on the CLS token
# and on the mean patch token, per (classification dataset, model, resolution).
# The images go through the shared extract_features (rules/features.smk) and its cache.


localrules:
    download_classification_dataset,


rule download_classification_dataset:
    output:
        manifest="resources/datasets/{dataset}/manifest.json",
    log:
        "logs/datasets/classify/{dataset}.log",
    benchmark:
        "benchmarks/datasets/classify/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(CLASSIFY_DATASETS) or "(?!)",
    priority: 11
    conda:
        "../envs/fmeval.yaml"
    resources:
        network=1,
    params:
        name=lambda wildcards: wildcards.dataset,
        source=get_classify_source("source"),
        sha256=get_classify_source("sha256"),
        format=get_classify_source("format"),
        test_fraction=get_classify_source("test_fraction"),
        seed=get_classify_source("seed"),
        out_dir=lambda wildcards, output: os.path.dirname(output.manifest),
    script:
        "../scripts/run_rule.py"


rule gather_embeddings:
    input:
        **features_of(CLASSIFY.tap, CLASSIFY.transform),
        dataset_manifest=rules.download_classification_dataset.output.manifest,
        # the protocol's tap and transform (issue 25; rules/common.smk)
    output:
        embeddings="results/classify/{dataset}/{model}/{res}/embeddings.parquet",
    log:
        "logs/classify/{dataset}/{model}/{res}/gather_embeddings.log",
    benchmark:
        "benchmarks/classify/{dataset}/{model}/{res}/gather_embeddings.tsv"
    conda:
        "../envs/fmeval.yaml"
    script:
        "../scripts/run_rule.py"


rule score_knn:
    input:
        embeddings=rules.gather_embeddings.output.embeddings,
    output:
        table="results/classify/{dataset}/{model}/{res}/knn.csv",
        predictions="results/classify/{dataset}/{model}/{res}/knn_predictions.parquet",
    log:
        "logs/classify/{dataset}/{model}/{res}/score_knn.log",
    benchmark:
        "benchmarks/classify/{dataset}/{model}/{res}/score_knn.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    params:
        k=list(CLASSIFY.k),
        temperature=CLASSIFY.temperature,
        vote=CLASSIFY.knn_vote,
        protocol=CLASSIFY.knn_label,
    script:
        "../scripts/run_rule.py"


rule fit_linear_probe:
    input:
        embeddings=rules.gather_embeddings.output.embeddings,
    output:
        table="results/classify/{dataset}/{model}/{res}/linear.csv",
        predictions="results/classify/{dataset}/{model}/{res}/linear_predictions.parquet",
        confusion="results/classify/{dataset}/{model}/{res}/confusion.csv",
    log:
        "logs/classify/{dataset}/{model}/{res}/fit_linear_probe.log",
    benchmark:
        "benchmarks/classify/{dataset}/{model}/{res}/fit_linear_probe.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    params:
        cs=None if CLASSIFY.cs is None else list(CLASSIFY.cs),
        val_fraction=CLASSIFY.val_fraction,
        seed=CLASSIFY.seed,
        max_iter=CLASSIFY.max_iter,
        tol=CLASSIFY.tol,
        linear_method=CLASSIFY.linear_method,
        protocol=CLASSIFY.linear_label,
    script:
        "../scripts/run_rule.py"


rule report_classify:
    input:
        knn=expand_classify_cells(rules.score_knn.output.table),
        linear=expand_classify_cells(rules.fit_linear_probe.output.table),
        confusion=expand_classify_cells(rules.fit_linear_probe.output.confusion),
        predictions=expand_classify_cells(rules.fit_linear_probe.output.predictions),
        manifests=expand(
            rules.download_classification_dataset.output.manifest,
            dataset=CLASSIFY_DATASETS,
        ),
    output:
        **get_classify_report_outputs(),
    log:
        "logs/report/report_classify.log",
    benchmark:
        "benchmarks/report/report_classify.tsv"
    conda:
        "../envs/fmeval.yaml"
    params:
        datasets=CLASSIFY_DATASETS,
        n_misclassified=CLASSIFY.misclassified,
    script:
        "../scripts/run_rule.py"


# issue 24: the classification branch's targets and report inputs (rules/common.smk)
register_branch(
    "classify",
    final=rules.report_classify.output,
    tables=[rules.report_classify.output.accuracy],
    figures=[
        rules.report_classify.output[f"{name}_png"]
        for name in ("table", "knn", "linear", "confusion", "mistakes")
    ],
    records={
        "model_manifests": expand(
            rules.fetch_model.output.manifest, model=list(MODELS)
        ),
    },
    shared=[
        "fetch_model",
        feature_maker(features_of(CLASSIFY.tap, CLASSIFY.transform)),
    ],
)
