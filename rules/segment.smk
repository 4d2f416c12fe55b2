# Test images: segmentation with the fitted probe, PCA renders, optional CLS
# attention maps, and the segmentation report section.


rule segment_test_images:
    input:
        patches=lambda wildcards: get_features(
            wildcards.dataset, wildcards.model, wildcards.res
        )["patches"],
        probe="results/probe/{dataset}/{model}/{res}/probe.npz",
        dataset="resources/datasets/{dataset}/manifest.json",
    output:
        png=report(
            "results/segment/{dataset}/{model}/{res}/{image}.png",
            category="Segmentation",
            subcategory="Test images",
            caption="../report/triptych.rst",
        ),
        scores="results/segment/{dataset}/{model}/{res}/{image}.json",
    log:
        "logs/segment/{dataset}/{model}/{res}/{image}.log",
    wildcard_constraints:
        image=_alternatives(get_all_test_images()),
    conda:
        "../envs/fmeval.yaml"
    params:
        median_filter=config["segment"]["median_filter"],
        threshold=config["segment"]["threshold"],
    script:
        "../scripts/segment_test_images.py"


rule render_pca:
    input:
        patches=lambda wildcards: get_features(
            wildcards.dataset, wildcards.model, wildcards.res
        )["patches"],
        cls=lambda wildcards: get_features(
            wildcards.dataset, wildcards.model, wildcards.res
        )["cls"],
        probe="results/probe/{dataset}/{model}/{res}/probe.npz",
        dataset="resources/datasets/{dataset}/manifest.json",
    output:
        png=report(
            "results/pca/{dataset}/{model}/{res}/{image}.png",
            category="Segmentation",
            subcategory="PCA renders",
            caption="../report/pca.rst",
        ),
        info="results/pca/{dataset}/{model}/{res}/{image}.json",
    log:
        "logs/pca/{dataset}/{model}/{res}/{image}.log",
    wildcard_constraints:
        image=_alternatives(get_all_test_images()),
    conda:
        "../envs/fmeval.yaml"
    params:
        threshold=config["segment"]["threshold"],
    script:
        "../scripts/render_pca.py"


rule render_attention:
    input:
        model="resources/models/{model}.json",
        dataset="resources/datasets/{dataset}/manifest.json",
    output:
        png=report(
            "results/attention/{dataset}/{model}/{res}/{image}.png",
            category="Segmentation",
            subcategory="CLS attention",
            caption="../report/attention.rst",
        ),
    log:
        "logs/attention/{dataset}/{model}/{res}/{image}.log",
    benchmark:
        "benchmarks/attention/{dataset}/{model}/{res}/{image}.tsv"
    wildcard_constraints:
        image=_alternatives(get_all_test_images()),
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        device=config["device"],
    script:
        "../scripts/render_attention.py"


rule report_segmentation:
    input:
        cv=get_all_cv_tables(),
        scores=get_segment_scores(),
    output:
        ap=report(
            f"{SEGMENTATION_REPORT}/ap.csv",
            category="Segmentation",
            subcategory="Tables",
            caption="../report/segmentation_ap.rst",
        ),
        best=report(
            f"{SEGMENTATION_REPORT}/ap_best.csv",
            category="Segmentation",
            subcategory="Tables",
            caption="../report/segmentation_ap_best.rst",
        ),
        test=report(
            f"{SEGMENTATION_REPORT}/test_scores.csv",
            category="Segmentation",
            subcategory="Tables",
            caption="../report/segmentation_test_scores.rst",
        ),
        ap_vs_c_png=report(
            f"{SEGMENTATION_REPORT}/ap_vs_c.png",
            category="Segmentation",
            subcategory="Plots",
            caption="../report/segmentation_ap_vs_c.rst",
        ),
        ap_vs_c_svg=f"{SEGMENTATION_REPORT}/ap_vs_c.svg",
        best_vs_res_png=report(
            f"{SEGMENTATION_REPORT}/best_ap_vs_res.png",
            category="Segmentation",
            subcategory="Plots",
            caption="../report/segmentation_best_ap_vs_res.rst",
        ),
        best_vs_res_svg=f"{SEGMENTATION_REPORT}/best_ap_vs_res.svg",
    log:
        "logs/report/segmentation.log",
    conda:
        "../envs/fmeval.yaml"
    script:
        "../scripts/report_segmentation.py"
