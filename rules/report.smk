# The aggregated report: one self-contained HTML page (fmeval.report: a jinja2 template
# and one context function per section) beside ap.csv and ct.csv, built from the stages'
# own tables and figures; the page draws nothing itself. A section <s> reads the inputs
# <s>_tables and <s>_figures that branch <s> registered (register_branch, rules/common.smk;
# fmeval/report/sections/__init__.py). Only the branches that run are inputs: an off
# branch's section says so, and its ap.csv / ct.csv copy is a one-row note.


report: "../report/workflow.rst"


rule build_report:
    input:
        # every branch that runs: <branch>_tables, <branch>_figures and its records
        # (model manifests, device records), as its rules file registered them
        **get_report_inputs(),
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
        "../scripts/run_rule.py"
