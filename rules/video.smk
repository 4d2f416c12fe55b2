# Video object segmentation: a DAVIS-layout dataset becomes a manifest with one item per
# frame (download_video), extract_features embeds every frame once (rules/features.smk),
# then each method predicts every frame's mask from the first frame's (or one annotated
# frame's) mask, J and F score it per frame and object, and report_video draws the
# section. The sweep is VIDEO (rules/common.smk): datasets x models x res x method.


localrules:
    download_video,


ruleorder: download_video > download_dataset


rule download_video:
    output:
        manifest="resources/datasets/{dataset}/manifest.json",
    log:
        "logs/datasets/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives(VIDEO.datasets),
    priority: 11
    conda:
        "../envs/fmeval.yaml"
    threads: get_fetch_threads()
    params:
        source=get_video_source,
        out_dir=lambda wildcards, output: os.path.dirname(output.manifest),
    script:
        "../scripts/download_video.py"


rule predict_video_masks:
    input:
        features=lambda wc: get_features(wc.dataset, wc.model, wc.res)["patches"],
        dataset="resources/datasets/{dataset}/manifest.json",
    output:
        masks="results/video/{dataset}/{model}/{res}/{method}/masks.npz",
    log:
        "logs/video/{dataset}/{model}/{res}/{method}/predict.log",
    benchmark:
        "benchmarks/video/{dataset}/{model}/{res}/{method}/predict.tsv"
    wildcard_constraints:
        dataset=_alternatives(VIDEO.datasets),
        method=_alternatives(VIDEO.methods),
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        options=get_video_options,
        device=config["device"],
    script:
        "../scripts/predict_video_masks.py"


rule score_video:
    input:
        masks=rules.predict_video_masks.output.masks,
        dataset="resources/datasets/{dataset}/manifest.json",
    output:
        metrics="results/video/{dataset}/{model}/{res}/{method}/metrics.parquet",
        summary="results/video/{dataset}/{model}/{res}/{method}/summary.json",
    log:
        "logs/video/{dataset}/{model}/{res}/{method}/score.log",
    benchmark:
        "benchmarks/video/{dataset}/{model}/{res}/{method}/score.tsv"
    wildcard_constraints:
        dataset=_alternatives(VIDEO.datasets),
        method=_alternatives(VIDEO.methods),
    conda:
        "../envs/fmeval.yaml"
    threads: 1
    params:
        bound_th=VIDEO.bound_th,
        labels=lambda wc: {
            "dataset": wc.dataset,
            "model": wc.model,
            "res": int(wc.res),
            "method": wc.method,
        },
    script:
        "../scripts/score_video.py"


rule report_video:
    input:
        metrics=get_all_video_metrics(),
        masks=get_video_strip_masks(),
        manifests=expand("resources/datasets/{dataset}/manifest.json", dataset=VIDEO.datasets),
    output:
        scores=f"{VIDEO_REPORT}/scores.csv",
        jf=f"{VIDEO_REPORT}/jf.csv",
        figures=get_video_report()["figures"],
    log:
        "logs/report/video.log",
    benchmark:
        "benchmarks/report/video.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 1
    params:
        strip_masks=lambda wc: get_video_strip_masks(by_dataset=True),
        manifests=lambda wc: {
            d: f"resources/datasets/{d}/manifest.json" for d in VIDEO.datasets
        },
        strip_frames=VIDEO.strip_frames,
        out_dir=VIDEO_REPORT,
    script:
        "../scripts/report_video.py"
