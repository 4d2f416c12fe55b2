# Video object segmentation: a DAVIS-layout dataset becomes a manifest with one item per
# frame (download_video), extract_features_variant embeds every frame once with the video
# protocol's tokens and frame transform (VIDEO_FEATURES, rules/common.smk), then each method predicts every frame's mask from the first frame's (or one annotated
# frame's) mask, J and F score it per frame and object, and report_video draws the
# section. The sweep is VIDEO (rules/common.smk): dataset x model x res x method; what each
# method needs (GPU, options) is its record (fmeval.video.methods).

from fmeval.video.methods import METHODS as VIDEO_METHODS


localrules:
    download_video,


ruleorder: download_video > download_dataset


rule download_video:
    output:
        manifest="resources/datasets/{dataset}/manifest.json",
    log:
        "logs/datasets/video/{dataset}.log",
    benchmark:
        "benchmarks/datasets/video/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(VIDEO.datasets) or "(?!)",
    priority: 11
    conda:
        "../envs/fmeval.yaml"
    resources:
        network=1,
    params:
        name=lambda wildcards: wildcards.dataset,
        source=get_video_source("source"),
        sha256=get_video_source("sha256"),
        resolution=get_video_source("resolution"),
        sequences=get_video_source("sequences"),
        image_set=get_video_source("image_set"),
        max_frames=get_video_source("max_frames"),
        out_dir=lambda wildcards, output: os.path.dirname(output.manifest),
    script:
        "../scripts/run_rule.py"


rule predict_video_masks:
    input:
        features=VIDEO_FEATURES["patches"],
        dataset_manifest=rules.download_video.output.manifest,
    output:
        masks="results/video/{dataset}/{model}/{res}/{method}/masks.npz",
    log:
        "logs/video/{dataset}/{model}/{res}/{method}/predict.log",
    benchmark:
        "benchmarks/video/{dataset}/{model}/{res}/{method}/predict.tsv"
    wildcard_constraints:
        method=_alternatives(VIDEO.methods),
    conda:
        "../envs/fmeval.yaml"
    threads: 2
    resources:
        gpu=lambda wildcards: int(VIDEO_METHODS[wildcards.method].gpu),
        mem_mb=8000,
    params:
        options=get_video_options,
    script:
        "../scripts/run_rule.py"


rule score_video:
    input:
        masks=rules.predict_video_masks.output.masks,
        dataset_manifest=rules.download_video.output.manifest,
    output:
        metrics="results/video/{dataset}/{model}/{res}/{method}/metrics.parquet",
        summary="results/video/{dataset}/{model}/{res}/{method}/summary.json",
    log:
        "logs/video/{dataset}/{model}/{res}/{method}/score.log",
    benchmark:
        "benchmarks/video/{dataset}/{model}/{res}/{method}/score.tsv"
    wildcard_constraints:
        method=_alternatives(VIDEO.methods),
    conda:
        "../envs/fmeval.yaml"
    threads: 1
    params:
        bound_th=VIDEO.bound_th,
        labels=lambda wildcards: {
            "dataset": wildcards.dataset,
            "model": wildcards.model,
            "res": int(wildcards.res),
            "method": wildcards.method,
        },
    script:
        "../scripts/run_rule.py"


rule report_video:
    input:
        metrics=expand_video_cells(rules.score_video.output.metrics),
        strip_masks=[p for d in get_video_strips().values() for p in d.values()],
        dataset_manifests=expand(
            rules.download_video.output.manifest, dataset=list(VIDEO.datasets)
        ),
    output:
        scores="results/report/video/scores.csv",
        jf="results/report/video/jf.csv",
        j_over_time_png=expand(
            "results/report/video/j_over_time_{dataset}.png",
            dataset=list(VIDEO.datasets),
        ),
        j_over_time_svg=expand(
            "results/report/video/j_over_time_{dataset}.svg",
            dataset=list(VIDEO.datasets),
        ),
        strips_png=expand(
            "results/report/video/strips_{dataset}.png", dataset=list(VIDEO.datasets)
        ),
        strips_svg=expand(
            "results/report/video/strips_{dataset}.svg", dataset=list(VIDEO.datasets)
        ),
    log:
        "logs/report/video.log",
    benchmark:
        "benchmarks/report/video.tsv"
    conda:
        "../envs/fmeval.yaml"
    threads: 1
    params:
        datasets=list(VIDEO.datasets),
        strips=get_video_strips(),
        strip_frames=VIDEO.strip_frames,
    script:
        "../scripts/run_rule.py"


# issue 24: the video branch's targets and report inputs (rules/common.smk)
register_branch(
    "video",
    final=[
        *expand_video_cells(rules.score_video.output.metrics),
        *expand_video_cells(rules.score_video.output.summary),
        *rules.report_video.output,
    ],
    tables=[rules.report_video.output.jf, rules.report_video.output.scores],
    figures=[
        *rules.report_video.output.j_over_time_png,
        *rules.report_video.output.strips_png,
    ],
    records={
        "model_manifests": expand(
            rules.fetch_model.output.manifest, model=list(VIDEO.models)
        ),
    },
    shared=["fetch_model", feature_maker(VIDEO_FEATURES)],
)
