# The aggregated report: one self-contained HTML page (fmeval.report: a jinja2 template
# and one context function per section) beside ap.csv and ct.csv, built from the stages'
# own tables and figures; the page draws nothing itself. A section <s> reads the inputs
# <s>_tables and <s>_figures (see fmeval/report/sections/__init__.py to add one).


report: "../report/workflow.rst"


rule build_report:
    input:
        model_manifests=expand(rules.fetch_model.output.manifest, model=list(MODELS)),
        feature_files=feature_targets("patches"),
        probe_summaries=expand_cells(rules.cross_validate_probe.output.summary),
        reconstruction_records=expand_reconstructions(
            rules.reconstruct_sinograms.output.meta
        ),
        segmentation_tables=[
            rules.report_segmentation.output.ap,
            rules.report_segmentation.output.best,
            rules.report_segmentation.output.test,
        ],
        segmentation_figures=[
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
        ct_tables=[rules.report_ct.output.table],
        ct_figures=[
            rules.report_ct.output.psnr_png,
            rules.report_ct.output.ssim_png,
            rules.report_ct.output.sparse_png,
            rules.report_ct.output.dense_png,
        ],
        video_tables=get_video_report()["tables"],
        video_figures=get_video_report()["figures"],
        classify_tables=get_classify_report()["tables"],
        classify_figures=get_classify_report()["figures"],
    output:
        html=report(
            "results/report/index.html",
            category="Report",
            caption="../report/index.rst",
        ),
        ap=report(
            "results/report/ap.csv",
            category="Segmentation",
            caption="../report/ap.rst",
        ),
        ct=report(
            "results/report/ct.csv",
            category="CT reconstruction",
            caption="../report/ct.rst",
        ),
    log:
        "logs/report/build_report.log",
    benchmark:
        "benchmarks/report/build_report.tsv"
    conda:
        "../envs/fmeval.yaml"
    params:
        config=get_result_config(),
        benchmark_root="benchmarks",
        benchmark_patterns=lambda wc: get_benchmark_patterns(),
        rules=lambda wc: get_rule_names(),
        workflow_dir=workflow.basedir,
    script:
        "../scripts/build_report.py"
