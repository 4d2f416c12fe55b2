"""Rule script: the CT report section (ct.csv, metric-vs-views plots, example images)."""

from fmeval.ct.summary import run_ct_report
from fmeval.logs import run_logged

out = snakemake.output  # noqa: F821
run_logged(
    snakemake.log[0],  # noqa: F821
    run_ct_report,
    metrics=snakemake.input.metrics,  # noqa: F821
    phantoms=snakemake.input.phantoms,  # noqa: F821
    examples=snakemake.params.examples,  # noqa: F821
    methods=snakemake.params.methods,  # noqa: F821
    noises=snakemake.params.noises,  # noqa: F821
    table_out=out.table,
    plots={m: {"png": out[f"{m}_png"], "svg": out[f"{m}_svg"]} for m in ("psnr", "ssim")},
    example_plots={
        s: {"png": out[f"{s}_png"], "svg": out[f"{s}_svg"]} for s in ("sparse", "dense")
    },
)
