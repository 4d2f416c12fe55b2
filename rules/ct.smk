# CT reconstruction: seeded ellipse phantoms, one operator norm per view count,
# noisy sinograms per (views, noise), reconstructions per (method, views, noise),
# PSNR/SSIM per phantom and the CT report section. The grid is CT (rules/common.smk).


localrules:
    fetch_ram_weights,


rule make_phantoms:
    output:
        phantoms="resources/phantoms/ellipses-test-{n_phantoms}.npy",
    log:
        "logs/ct/phantoms/ellipses-test-{n_phantoms}.log",
    conda:
        "../envs/fmeval.yaml"
    script:
        "../scripts/make_phantoms.py"


rule fetch_ram_weights:
    output:
        manifest=RAM_MANIFEST,
    log:
        "logs/ct/fetch_ram_weights.log",
    priority: 10
    conda:
        "../envs/fmeval.yaml"
    params:
        weights=CT.ram_weights,
        cache_dir=lambda wildcards, output: os.path.dirname(
            os.path.dirname(output.manifest)
        ),
    script:
        "../scripts/fetch_ram_weights.py"


rule measure_operator:
    output:
        operator="results/ct/operators/{views}.json",
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
        "../scripts/measure_operator.py"


rule simulate_sinograms:
    input:
        phantoms=get_phantoms(),
        operator="results/ct/operators/{views}.json",
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
        gain=lambda wildcards: CT.noise[wildcards.noise].gain,
        sigma=lambda wildcards: CT.noise[wildcards.noise].sigma,
        seed=CT.seed,
        batch_size=config["batch_size"],
    script:
        "../scripts/simulate_sinograms.py"


rule reconstruct_sinograms:
    input:
        unpack(get_reconstruction_inputs),
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
        gain=lambda wildcards: CT.noise[wildcards.noise].gain,
        sigma=lambda wildcards: CT.noise[wildcards.noise].sigma,
        options=get_method_options,
        seed=CT.seed,
        batch_size=config["batch_size"],
        device=get_method_device,
    script:
        "../scripts/reconstruct_sinograms.py"


rule score_reconstructions:
    input:
        phantoms=get_phantoms(),
        images=[cell["images"] for cell in get_all_reconstructions()],
        metas=[cell["meta"] for cell in get_all_reconstructions()],
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
        "../scripts/score_reconstructions.py"


rule report_ct:
    input:
        metrics="results/ct/metrics.parquet",
        phantoms=get_phantoms(),
        examples=get_ct_example_images(),
    output:
        table=report(
            f"{CT_REPORT}/ct.csv",
            category="CT reconstruction",
            subcategory="Tables",
            caption="../report/ct_table.rst",
        ),
        psnr_png=report(
            f"{CT_REPORT}/psnr_vs_views.png",
            category="CT reconstruction",
            subcategory="Plots",
            caption="../report/ct_psnr_vs_views.rst",
        ),
        psnr_svg=f"{CT_REPORT}/psnr_vs_views.svg",
        ssim_png=report(
            f"{CT_REPORT}/ssim_vs_views.png",
            category="CT reconstruction",
            subcategory="Plots",
            caption="../report/ct_ssim_vs_views.rst",
        ),
        ssim_svg=f"{CT_REPORT}/ssim_vs_views.svg",
        sparse_png=report(
            f"{CT_REPORT}/examples_sparse.png",
            category="CT reconstruction",
            subcategory="Example images",
            caption="../report/ct_examples.rst",
        ),
        sparse_svg=f"{CT_REPORT}/examples_sparse.svg",
        dense_png=report(
            f"{CT_REPORT}/examples_dense.png",
            category="CT reconstruction",
            subcategory="Example images",
            caption="../report/ct_examples.rst",
        ),
        dense_svg=f"{CT_REPORT}/examples_dense.svg",
    log:
        "logs/report/ct.log",
    conda:
        "../envs/fmeval.yaml"
    params:
        examples=get_ct_examples(),
        methods=list(CT.methods),
        noises=list(CT.noise),
    script:
        "../scripts/report_ct.py"
