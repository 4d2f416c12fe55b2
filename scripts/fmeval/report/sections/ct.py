"""The CT section: PSNR and SSIM per method x views x noise (views ascending, the best method
per (views, noise) in bold, random rows marked), the phantom count, the curves and the
example reconstructions with what chose them.
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fmeval.ct.metrics import METRICS
from fmeval.ct.summary import RANK_METRIC
from fmeval.ct.sweep import ct_grid
from fmeval.report.tables import Cell, Row, Table, fmt, pick, read_table

CELL = ["method", "views", "noise"]
COLUMNS = [
    *CELL,
    "n",
    *(f"{m}_{s}" for m in METRICS for s in ("mean", "ci_low", "ci_high")),
    "weights",
    "random_init",
]
DIGITS = {"psnr": 2, "ssim": 3}
UNITS = {"psnr": "PSNR (dB)", "ssim": "SSIM"}


def context(files, config: Mapping) -> dict:
    """What ``sections/ct.html.j2`` shows."""
    table = read_table(pick(files.tables, "ct.csv"), columns=COLUMNS)
    grid = ct_grid(config["ct"])
    noises = [n for n in grid.noise if n in set(table["noise"])]
    methods = [m for m in grid.methods if m in set(table["method"])]
    figures = {Path(p).stem: p for p in files.figures}
    sparse, dense, example_noise = grid.examples
    chosen_by = (
        f"{RANK_METRIC.upper()} averaged over the methods ({', '.join(m.upper() for m in methods)})"
    )
    random = table[table["random_init"].astype(bool)]
    return {
        "random_reasons": [
            f"CT rows of {', '.join(sorted(set(random['method'])))} come from random weights"
        ]
        if len(random)
        else [],
        "n_phantoms": sorted({int(n) for n in table["n"]}),
        "views": sorted({int(v) for v in table["views"]}),
        "tables": [
            metric_table(table, metric, noises=noises, methods=methods) for metric in METRICS
        ],
        "curves": [
            {"src": figures[f"{m}_vs_views"], "caption": curve_caption(m)}
            for m in METRICS
            if f"{m}_vs_views" in figures
        ],
        "examples": [
            {
                "src": figures[f"examples_{setting}"],
                "caption": (
                    f"Ground truth and each method at {views} views, noise {example_noise}: the "
                    f"top row is the median phantom and the bottom row the worst, both ranked by "
                    f"{chosen_by}; each panel gives its own PSNR and SSIM."
                ),
            }
            for setting, views in (("sparse", sparse), ("dense", dense))
            if f"examples_{setting}" in figures
        ],
        "chosen_by": chosen_by,
    }


def curve_caption(metric: str) -> str:
    return (
        f"{UNITS[metric]} against the number of views (log scale), one panel per noise level and "
        "one line per method; the bars are 95% confidence intervals over the phantoms."
    )


def metric_table(
    table: pd.DataFrame, metric: str, *, noises: list[str], methods: list[str]
) -> Table:
    """One metric: a row per (noise, method), a column per view count (ascending); each cell
    is the mean ± half the 95% CI; the best mean per (noise, views) is marked ``best``.
    """
    views = sorted({int(v) for v in table["views"]})
    cells = table.set_index(["noise", "method", "views"])
    mean = f"{metric}_mean"
    best = table.loc[table.groupby(["noise", "views"])[mean].idxmax()]
    winners = {(r.noise, int(r.views)): r.method for r in best.itertuples()}
    rows = []
    for noise in noises:
        for method in methods:
            out = [Cell(noise), Cell(method)]
            random = False
            for v in views:
                if (noise, method, v) not in cells.index:
                    out.append(Cell("–", "num"))
                    continue
                r = cells.loc[(noise, method, v)]
                random |= bool(r["random_init"])
                half = (r[f"{metric}_ci_high"] - r[f"{metric}_ci_low"]) / 2
                is_best = winners.get((noise, v)) == method
                out.append(
                    Cell(
                        fmt(r[mean], DIGITS[metric], half),
                        "num best" if is_best else "num",
                        f"best {UNITS[metric]} at {v} views, noise {noise}" if is_best else "",
                    )
                )
            if random:
                out[1] = Cell(f"{method} (random weights)")
            rows.append(Row(out, "random" if random else "", {"noise": noise, "method": method}))
    header = [Cell("noise"), Cell("method")] + [Cell(f"{v} views", "num") for v in views]
    return Table(
        f"ct-{metric}",
        header,
        rows,
        caption=f"{UNITS[metric]}: mean ± half-width of the 95% confidence interval over the "
        "phantoms; the best method per view count and noise level is in bold.",
    )
