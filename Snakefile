# fmeval: zero-shot evaluation of vision foundation models.
# This file is a table of contents; each stage lives in rules/<stage>.smk and its
# logic in the importable package scripts/fmeval/.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/features.smk"
include: "rules/probe.smk"
include: "rules/segment.smk"
include: "rules/ct.smk"
include: "rules/video.smk"
include: "rules/classify.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        feature_targets("patches"),
        feature_targets("cls"),
        expand_cells(rules.fit_probe.output.probe),
        rules.report_segmentation.output,
        rules.report_ct.output,
        get_video_outputs(),
        rules.report_classify.output if CLASSIFY_DATASETS else [],
        rules.build_report.output,


# Every rule's params in one canonical spelling (sorted mappings, recursively; callables'
# results too), so that how a config is written never reruns a job: fmeval.canon. This stays
# the last line, after every rule, so a rule added in any rules/*.smk is covered.
canonicalise_rules(workflow.rules)
