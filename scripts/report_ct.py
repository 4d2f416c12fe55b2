"""Rule script: the CT report section (ct.csv, metric-vs-views plots, example images)."""

from fmeval.ct.summary import run_ct_report
from fmeval.logs import run_logged

out = snakemake.output
run_logged(
    snakemake.log[0],
    run_ct_report,
    metrics=snakemake.input.metrics,
    phantoms=snakemake.input.phantoms,
    examples=snakemake.params.examples,
    methods=snakemake.params.methods,
    noises=snakemake.params.noises,
    table_out=out.table,
    plots={m: {"png": out[f"{m}_png"], "svg": out[f"{m}_svg"]} for m in ("psnr", "ssim")},
    example_plots={
        s: {"png": out[f"{s}_png"], "svg": out[f"{s}_svg"]} for s in ("sparse", "dense")
    },
)
