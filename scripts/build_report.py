"""Rule script: the aggregated HTML report, ap.csv, ct.csv and the report's plots."""

from fmeval.logs import run_logged
from fmeval.report.page import build_report

run_logged(
    snakemake.log[0],
    build_report,
    config=snakemake.params.config,
    model_manifests=list(snakemake.input.model_manifests),
    feature_files=list(snakemake.input.feature_files),
    segmentation_tables=list(snakemake.input.segmentation_tables),
    segmentation_figures=list(snakemake.input.segmentation_figures),
    ct_tables=list(snakemake.input.ct_tables),
    ct_figures=list(snakemake.input.ct_figures),
    video_tables=list(snakemake.input.video_tables),
    video_figures=list(snakemake.input.video_figures),
    benchmark_root=snakemake.params.benchmark_root,
    benchmark_patterns=snakemake.params.benchmark_patterns,
    html_out=snakemake.output.html,
    ap_out=snakemake.output.ap,
    ct_out=snakemake.output.ct,
    figures_dir=snakemake.output.figures,
)
