"""Rule script: the segmentation report section (AP tables, plots, held-out test scores)."""

from fmeval.logs import run_logged
from fmeval.seg.summary import run_report

run_logged(
    snakemake.log[0],
    run_report,
    cv=list(snakemake.input.cv),
    scores=list(snakemake.input.scores),
    ap_out=snakemake.output.ap,
    best_out=snakemake.output.best,
    test_out=snakemake.output.test,
    ap_vs_c_png=snakemake.output.ap_vs_c_png,
    ap_vs_c_svg=snakemake.output.ap_vs_c_svg,
    best_vs_res_png=snakemake.output.best_vs_res_png,
    best_vs_res_svg=snakemake.output.best_vs_res_svg,
)
