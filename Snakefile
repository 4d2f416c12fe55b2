# fmeval: zero-shot evaluation of vision foundation models.
# This file is a table of contents; each stage lives in rules/<stage>.smk and its
# logic in the importable package scripts/fmeval/.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/features.smk"


# The branches, in registry order (fmeval.branches.BRANCHES: a new branch is one line
# there); each branch's rules file ends with register_branch(...) (rules/common.smk).
for _branch in BRANCHES:
    for _rules_file in _branch.rules:

        include: f"rules/{_rules_file}"


include: "rules/report.smk"


# The branches that run (the config's `branches`) and the report; is_activated(name) says
# whether one runs.
rule all:
    default_target: True
    input:
        get_final_output(),
        rules.build_report.output,


# Every rule's params in one canonical spelling (sorted mappings, recursively; callables'
# results too), so that how a config is written never reruns a job: fmeval.canon. This stays
# the last line but one, after every rule, so a rule added in any rules/*.smk is covered.
canonicalise_rules(workflow.rules)
# issue 24: Slurm partitions from each rule's own `resources: gpu` (rules/common.smk)
route_gpu_jobs(workflow.rules)
