# Test images: segmentation with the fitted probe, PCA renders, optional CLS
# attention maps, and the segmentation report section.


rule segment_test_images:
    input:
        features=cell_features("patches"),
        probe=rules.fit_probe.output.probe,
        dataset_manifest=rules.download_dataset.output.manifest,
    output:
        folder=image_folder(
            "results/segment/{dataset}/{model}/{res}",
            "Test images",
            "../report/triptych.rst",
        ),
    log:
        "logs/segment/{dataset}/{model}/{res}.log",
    benchmark:
        "benchmarks/segment/{dataset}/{model}/{res}.tsv"
    conda:
        "../envs/fmeval.yaml"
    params:
        median_filter=config["segment"]["median_filter"],
        threshold=config["segment"]["threshold"],
    script:
        "../scripts/run_rule.py"


rule render_pca:
    input:
        features=cell_features("patches"),
        cls=cell_features("cls"),
        probe=rules.fit_probe.output.probe,
        dataset_manifest=rules.download_dataset.output.manifest,
    output:
        folder=image_folder(
            "results/pca/{dataset}/{model}/{res}", "PCA renders", "../report/pca.rst"
        ),
    log:
        "logs/pca/{dataset}/{model}/{res}.log",
    benchmark:
        "benchmarks/pca/{dataset}/{model}/{res}.tsv"
    conda:
        "../envs/fmeval.yaml"
    params:
        threshold=config["segment"]["threshold"],
    script:
        "../scripts/run_rule.py"


rule render_attention:
    input:
        model_manifest=rules.fetch_model.output.manifest,
        dataset_manifest=rules.download_dataset.output.manifest,
    output:
        folder=image_folder(
            "results/attention/{dataset}/{model}/{res}",
            "CLS attention",
            "../report/attention.rst",
        ),
    log:
        "logs/attention/{dataset}/{model}/{res}.log",
    benchmark:
        "benchmarks/attention/{dataset}/{model}/{res}.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    script:
        "../scripts/run_rule.py"


rule report_segmentation:
    input:
        cv=expand_cells(rules.cross_validate_probe.output.table),
        scores=expand_cells(rules.segment_test_images.output.folder),
    output:
        ap=segmentation_file("ap.csv", "Tables"),
        best=segmentation_file("ap_best.csv", "Tables"),
        test=segmentation_file("test_scores.csv", "Tables"),
        ap_vs_c_png=segmentation_file("ap_vs_c.png", "Plots"),
        ap_vs_c_svg="results/report/segmentation/ap_vs_c.svg",
        best_vs_res_png=segmentation_file("best_ap_vs_res.png", "Plots"),
        best_vs_res_svg="results/report/segmentation/best_ap_vs_res.svg",
    log:
        "logs/report/segmentation.log",
    benchmark:
        "benchmarks/report/segmentation.tsv"
    conda:
        "../envs/fmeval.yaml"
    script:
        "../scripts/run_rule.py"


# issue 24: the segmentation branch's targets and report inputs (rules/common.smk)
register_branch(
    "segmentation",
    final=[
        *feature_targets("patches"),
        *feature_targets("cls"),
        *expand_cells(rules.fit_probe.output.probe),
        *rules.report_segmentation.output,
    ],
    tables=[
        rules.report_segmentation.output.ap,
        rules.report_segmentation.output.best,
        rules.report_segmentation.output.test,
    ],
    figures=[
        rules.report_segmentation.output.ap_vs_c_png,
        rules.report_segmentation.output.best_vs_res_png,
        *expand_cells(rules.segment_test_images.output.folder),
        *expand_cells(rules.render_pca.output.folder),
        *(
            expand_attention_cells(rules.render_attention.output.folder)
            if config["pca"]["attention_maps"]
            else []
        ),
    ],
    records={
        "model_manifests": expand(
            rules.fetch_model.output.manifest, model=list(MODELS)
        ),
        "feature_files": feature_targets("patches"),
        "probe_summaries": expand_cells(rules.cross_validate_probe.output.summary),
    },
    shared=[
        "download_dataset",
        "fetch_model",
        "extract_feature_shard" if SHARDS else "extract_features",
    ],
)
