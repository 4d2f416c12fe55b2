# Test images: segmentation with the fitted probe, PCA renders, optional CLS
# attention maps, and the segmentation report section.


rule segment_test_images:
    input:
        features=cell_features("patches"),
        probe=rules.fit_probe.output.probe,
        dataset_manifest=rules.download_dataset.output.manifest,
    output:
        # every test image of the dataset, <image>.png and <image>.json, in one job
        folder=report(
            directory("results/segment/{dataset}/{model}/{res}"),
            patterns=["{image}.png"],
            category="Segmentation",
            subcategory="Test images",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "resolution": "{res}",
                "image": "{image}",
            },
            caption="../report/triptych.rst",
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
        "../scripts/segment_test_images.py"


rule render_pca:
    input:
        features=cell_features("patches"),
        cls=cell_features("cls"),
        probe=rules.fit_probe.output.probe,
        dataset_manifest=rules.download_dataset.output.manifest,
    output:
        # every test image of the dataset, <image>.png and <image>.json, in one job
        folder=report(
            directory("results/pca/{dataset}/{model}/{res}"),
            patterns=["{image}.png"],
            category="Segmentation",
            subcategory="PCA renders",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "resolution": "{res}",
                "image": "{image}",
            },
            caption="../report/pca.rst",
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
        "../scripts/render_pca.py"


rule render_attention:
    input:
        model_manifest=rules.fetch_model.output.manifest,
        dataset_manifest=rules.download_dataset.output.manifest,
    output:
        # every test image of the dataset, <image>.png, in one job
        folder=report(
            directory("results/attention/{dataset}/{model}/{res}"),
            patterns=["{image}.png"],
            category="Segmentation",
            subcategory="CLS attention",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "resolution": "{res}",
                "image": "{image}",
            },
            caption="../report/attention.rst",
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
        "../scripts/render_attention.py"


rule report_segmentation:
    input:
        cv=expand_cells(rules.cross_validate_probe.output.table),
        scores=expand_cells(rules.segment_test_images.output.folder),
    output:
        ap=report(
            "results/report/segmentation/ap.csv",
            category="Segmentation",
            subcategory="Tables",
            caption="../report/segmentation_ap.rst",
        ),
        best=report(
            "results/report/segmentation/ap_best.csv",
            category="Segmentation",
            subcategory="Tables",
            caption="../report/segmentation_ap_best.rst",
        ),
        test=report(
            "results/report/segmentation/test_scores.csv",
            category="Segmentation",
            subcategory="Tables",
            caption="../report/segmentation_test_scores.rst",
        ),
        ap_vs_c_png=report(
            "results/report/segmentation/ap_vs_c.png",
            category="Segmentation",
            subcategory="Plots",
            caption="../report/segmentation_ap_vs_c.rst",
        ),
        ap_vs_c_svg="results/report/segmentation/ap_vs_c.svg",
        best_vs_res_png=report(
            "results/report/segmentation/best_ap_vs_res.png",
            category="Segmentation",
            subcategory="Plots",
            caption="../report/segmentation_best_ap_vs_res.rst",
        ),
        best_vs_res_svg="results/report/segmentation/best_ap_vs_res.svg",
    log:
        "logs/report/segmentation.log",
    benchmark:
        "benchmarks/report/segmentation.tsv"
    conda:
        "../envs/fmeval.yaml"
    script:
        "../scripts/report_segmentation.py"
