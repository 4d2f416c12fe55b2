"""Rule script: the aggregated HTML report, ap.csv, ct.csv and the report's plots."""

from fmeval.logs import run_logged
from fmeval.report.page import build_report

run_logged(
    snakemake.log[0],  # noqa: F821
    build_report,
    config=snakemake.params.config,  # noqa: F821
    model_manifests=list(snakemake.input.models),  # noqa: F821
    # noqa: F821
    feature_files=[p for p in snakemake.input.features if not p.endswith(".cls.parquet")],
    segmentation_tables=list(snakemake.input.segmentation_tables),  # noqa: F821
    segmentation_figures=list(snakemake.input.segmentation_figures),  # noqa: F821
    ct_tables=list(snakemake.input.ct_tables),  # noqa: F821
    ct_figures=list(snakemake.input.ct_figures),  # noqa: F821
    benchmark_root=snakemake.params.benchmark_root,  # noqa: F821
    benchmark_patterns=snakemake.params.benchmark_patterns,  # noqa: F821
    html_out=snakemake.output.html,  # noqa: F821
    ap_out=snakemake.output.ap,  # noqa: F821
    ct_out=snakemake.output.ct,  # noqa: F821
    figures_dir=snakemake.output.figures,  # noqa: F821
)
