"""Rule script: the aggregated HTML report (index.html), ap.csv and ct.csv."""

from fmeval.logs import run_logged
from fmeval.report.render import build_report

run_logged(
    snakemake.log[0],
    build_report,
    config=snakemake.params.config,
    inputs={name: list(paths) for name, paths in snakemake.input.items()},
    benchmark_root=snakemake.params.benchmark_root,
    benchmark_patterns=snakemake.params.benchmark_patterns,
    rules=snakemake.params.get("rules", []),
    workflow_dir=snakemake.params.get("workflow_dir"),
    html=snakemake.output.html,
    ap=snakemake.output.ap,
    ct=snakemake.output.ct,
)
