# The aggregated report: one self-contained HTML page beside ap.csv, ct.csv and
# the report's plots. Each stage's section comes from rules/common.smk's
# get_<stage>_report(); a stage that is not there yet gives an empty section.


report: "../report/workflow.rst"


rule build_report:
    input:
        models=expand("resources/models/{model}.json", model=MODELS),
        features=get_all_features(),
        segmentation_tables=lambda wc: get_stage_report("segmentation")["tables"],
        segmentation_figures=lambda wc: get_stage_report("segmentation")["figures"],
        ct_tables=lambda wc: get_stage_report("ct")["tables"],
        ct_figures=lambda wc: get_stage_report("ct")["figures"],
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
        figures=report(
            directory("results/report/figures"),
            patterns=["{name}.png"],
            category="Report plots",
            caption="../report/figures.rst",
        ),
    log:
        "logs/report/build_report.log",
    conda:
        "../envs/fmeval.yaml"
    params:
        config=config,
        benchmark_root="benchmarks",
        benchmark_patterns=lambda wc: get_benchmark_patterns(),
    script:
        "../scripts/build_report.py"
