"""Rule script: the segmentation report section (AP tables, plots, held-out test scores)."""

from fmeval.logs import run_logged
from fmeval.seg.summary import run_report

run_logged(
    snakemake.log[0],  # noqa: F821
    run_report,
    cv=list(snakemake.input.cv),  # noqa: F821
    scores=list(snakemake.input.scores),  # noqa: F821
    ap_out=snakemake.output.ap,  # noqa: F821
    best_out=snakemake.output.best,  # noqa: F821
    test_out=snakemake.output.test,  # noqa: F821
    ap_vs_c_png=snakemake.output.ap_vs_c_png,  # noqa: F821
    ap_vs_c_svg=snakemake.output.ap_vs_c_svg,  # noqa: F821
    best_vs_res_png=snakemake.output.best_vs_res_png,  # noqa: F821
    best_vs_res_svg=snakemake.output.best_vs_res_svg,  # noqa: F821
)
