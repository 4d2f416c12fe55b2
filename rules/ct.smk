# CT reconstruction: seeded ellipse phantoms, one sparse operator and norm per view count,
# noisy sinograms per (views, noise), reconstructions per (method, views, noise),
# PSNR/SSIM per phantom and the CT report section. The grid is CT (rules/common.smk); what
# each method needs (GPU, precision, options, weights) is its record (fmeval.ct.methods).

from fmeval.ct.methods import TUNABLE as CT_TUNABLE_METHODS


localrules:
    fetch_ram_weights,


rule make_phantoms:
    output:
        phantoms="resources/phantoms/ellipses-{part}-{n_phantoms}.npy",
    log:
        "logs/ct/phantoms/ellipses-{part}-{n_phantoms}.log",
    benchmark:
        "benchmarks/ct/phantoms/ellipses-{part}-{n_phantoms}.tsv"
    wildcard_constraints:
        part="test|validation",
    conda:
        "../envs/fmeval.yaml"
    script:
        "../scripts/run_rule.py"


rule fetch_ram_weights:
    input:
        unpack(lambda wildcards: get_local_weights(CT.ram_weights)),
    output:
        manifest="resources/ct/ram-weights.json",
    log:
        "logs/ct/fetch_ram_weights.log",
    benchmark:
        "benchmarks/ct/fetch_ram_weights.tsv"
    priority: 10
    conda:
        "../envs/fmeval.yaml"
    resources:
        network=1,
    params:
        weights=CT.ram_weights,
        cache_dir=get_cache_dir,
    script:
        "../scripts/run_rule.py"


rule measure_operator:
    output:
        operator="results/ct/operators/{views}.json",
        matrix="results/ct/operators/{views}.npz",
    log:
        "logs/ct/operators/{views}.log",
    benchmark:
        "benchmarks/ct/operators/{views}.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 1
    params:
        seed=CT.seed,
    script:
        "../scripts/run_rule.py"


rule simulate_sinograms:
    input:
        phantoms=get_phantoms(),
        operator=rules.measure_operator.output.operator,
    output:
        sinograms="results/ct/sinograms/{noise}/{views}.npy",
    log:
        "logs/ct/sinograms/{noise}/{views}.log",
    benchmark:
        "benchmarks/ct/sinograms/{noise}/{views}.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 1
    params:
        noise=get_noise,
        seed=CT.seed,
    script:
        "../scripts/run_rule.py"


# issue 26: the baselines' tuned options per (method, views, noise) cell, chosen on dival's
# validation phantoms (fmeval.ct.tuning); only cells whose config says `tune` have one.
rule tune_baseline:
    input:
        phantoms=get_validation_phantoms(),
        operator=rules.measure_operator.output.operator,
        matrix=rules.measure_operator.output.matrix,
    output:
        tuning="results/ct/tuning/{method}/{noise}/{views}.json",
    log:
        "logs/ct/tuning/{method}/{noise}/{views}.log",
    benchmark:
        "benchmarks/ct/tuning/{method}/{noise}/{views}.tsv"
    wildcard_constraints:
        method=_alternatives(CT_TUNABLE_METHODS),
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    params:
        noise=get_noise,
        options=get_method_options,
        search=get_tune_search,
        seed=CT.seed,
    script:
        "../scripts/run_rule.py"


rule reconstruct_sinograms:
    input:
        sinograms=rules.simulate_sinograms.output.sinograms,
        operator=rules.measure_operator.output.operator,
        matrix=rules.measure_operator.output.matrix,
        ram=get_ram_weights,
        tuned=get_tuning,
    output:
        images="results/ct/reconstructions/{method}/{noise}/{views}.npy",
        meta="results/ct/reconstructions/{method}/{noise}/{views}.json",
    log:
        "logs/ct/reconstructions/{method}/{noise}/{views}.log",
    benchmark:
        "benchmarks/ct/reconstructions/{method}/{noise}/{views}.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=get_method_gpus,
        mem_mb=8000,
    params:
        noise=get_noise,
        options=get_method_options,
        seed=CT.seed,
        precision=get_method_precision,
    script:
        "../scripts/run_rule.py"


rule score_reconstructions:
    input:
        phantoms=get_phantoms(),
        images=expand_reconstructions(rules.reconstruct_sinograms.output.images),
        metas=expand_reconstructions(rules.reconstruct_sinograms.output.meta),
    output:
        metrics="results/ct/metrics.parquet",
    log:
        "logs/ct/score_reconstructions.log",
    benchmark:
        "benchmarks/ct/score_reconstructions.tsv"
    conda:
        "../envs/fmeval.yaml"
    params:
        seed=CT.seed,
    script:
        "../scripts/run_rule.py"


rule report_ct:
    input:
        metrics=rules.score_reconstructions.output.metrics,
        phantoms=get_phantoms(),
        example_images=get_ct_example_images(),
    output:
        **ct_figure("psnr", "psnr_vs_views", "Plots", "../report/ct_psnr_vs_views.rst"),
        **ct_figure("ssim", "ssim_vs_views", "Plots", "../report/ct_ssim_vs_views.rst"),
        **ct_example_figure("sparse"),
        **ct_example_figure("dense"),
        table=report(
            "results/report/ct/ct.csv",
            category="CT reconstruction",
            subcategory="Tables",
            caption="../report/ct_table.rst",
        ),
    log:
        "logs/report/ct.log",
    benchmark:
        "benchmarks/report/ct.tsv"
    conda:
        "../envs/fmeval.yaml"
    params:
        examples=get_ct_examples(),
        methods=list(CT.methods),
        noises=list(CT.noise),
    script:
        "../scripts/run_rule.py"


# issue 24: the CT branch's targets and report inputs (rules/common.smk)
register_branch(
    "ct",
    final=rules.report_ct.output,
    tables=[rules.report_ct.output.table],
    figures=[
        rules.report_ct.output.psnr_png,
        rules.report_ct.output.ssim_png,
        rules.report_ct.output.sparse_png,
        rules.report_ct.output.dense_png,
    ],
    records={
        "reconstruction_records": expand_reconstructions(
            rules.reconstruct_sinograms.output.meta
        ),
    },
)
