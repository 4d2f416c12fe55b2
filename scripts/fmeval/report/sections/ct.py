"""The CT section: PSNR and SSIM per method x views x noise (views ascending, the best method
per (views, noise) in bold, random rows marked), the paired difference of each method against
the cell's best baseline (established only when its 95% interval excludes 0), the baselines'
settings per cell (tuned on validation phantoms or fixed) with TV's PGD steps (cells where
phantoms hit the maximum flagged), the phantom count, the curves and the example
reconstructions with what chose them.
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
    # issue 26
    "setting",
    "tuned",
    "iter_mean",
    "iter_max",
    "max_iter",
    "hit_max",
    "validation_psnr",
    *(
        f"{m}_{s}"
        for m in METRICS
        for s in (
            "baseline",
            "diff_mean",
            "diff_ci_low",
            "diff_ci_high",
            "wins",
            "losses",
            "established",
        )
    ),
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
        "paired": [
            paired_html(table, metric, noises=noises, methods=methods) for metric in METRICS
        ],
        "settings": settings_table(table, noises=noises),
        "hit_max": [
            f"{r.method.upper()} at {int(r.views)} views, noise {r.noise}: {int(r.hit_max)} of "
            f"{int(r.n)} phantoms"
            for r in table.itertuples()
            if r.hit_max == r.hit_max and r.hit_max > 0
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


# --- issue 26: paired differences, settings and convergence ------------------------------


def paired_html(
    table: pd.DataFrame, metric: str, *, noises: list[str], methods: list[str]
) -> Table:
    """Per (noise, method) and view count: the mean paired difference against the cell's best
    baseline with its 95% interval and wins/losses; ``best`` (bold) marks the differences
    whose interval excludes 0."""
    views = sorted({int(v) for v in table["views"]})
    cells = table.set_index(["noise", "method", "views"])
    digits = DIGITS[metric]
    rows = []
    for noise in noises:
        for method in methods:
            out = [Cell(noise), Cell(method)]
            for v in views:
                if (noise, method, v) not in cells.index:
                    out.append(Cell("–", "num"))
                    continue
                r = cells.loc[(noise, method, v)]
                base = r[f"{metric}_baseline"]
                if not isinstance(base, str) or not base:
                    out.append(Cell("–", "num"))
                elif base == method:
                    out.append(Cell("best baseline", "num note"))
                else:
                    low, high = r[f"{metric}_diff_ci_low"], r[f"{metric}_diff_ci_high"]
                    sure = str(r[f"{metric}_established"]).lower() == "true"
                    text = (
                        f"{r[f'{metric}_diff_mean']:+.{digits}f} [{fmt(low, digits)}, "
                        f"{fmt(high, digits)}] {int(r[f'{metric}_wins'])}W/"
                        f"{int(r[f'{metric}_losses'])}L"
                    )
                    what = "established" if sure else "not established (the interval holds 0)"
                    out.append(
                        Cell(
                            text,
                            "num best" if sure else "num",
                            f"{method} - {base}, paired over the phantoms: {what}",
                        )
                    )
            rows.append(Row(out, "", {"noise": noise, "method": method}))
    header = [Cell("noise"), Cell("method")] + [Cell(f"{v} views", "num") for v in views]
    return Table(
        f"ct-{metric}-paired",
        header,
        rows,
        caption=f"{UNITS[metric]}: each method minus the best baseline of the cell (FBP or TV, "
        "the higher mean), paired per phantom: mean [Student-t 95% interval] and the phantoms "
        "won/lost; in bold where the interval excludes 0 (the difference is established).",
    )


def settings_table(table: pd.DataFrame, *, noises: list[str]) -> Table:
    """Per (noise, views): FBP's filter and TV's lam as used (tuned on validation phantoms or
    fixed by the config), with the best validation PSNR, and TV's PGD steps."""
    cells = table.set_index(["noise", "method", "views"])
    views = sorted({int(v) for v in table["views"]})
    rows = []
    for noise in noises:
        for v in views:
            out = [Cell(noise), Cell(str(v), "num")]
            for method in ("fbp", "tv"):
                if (noise, method, v) not in cells.index:
                    out += [Cell("–"), Cell("–", "num")]
                    continue
                r = cells.loc[(noise, method, v)]
                tuned = str(r["tuned"]).lower() == "true"
                out.append(Cell(f"{r['setting']}" + (" (tuned)" if tuned else " (fixed)")))
                out.append(Cell(fmt(r["validation_psnr"], 2) if tuned else "–", "num"))
            if (noise, "tv", v) in cells.index:
                r = cells.loc[(noise, "tv", v)]
                hit = int(r["hit_max"])
                out.append(
                    Cell(
                        f"{r['iter_mean']:.0f} (max {r['iter_max']:.0f} of {r['max_iter']:.0f})",
                        "num",
                    )
                )
                out.append(
                    Cell(
                        f"{hit} of {int(r['n'])}" if hit else "0",
                        "num chance" if hit else "num",
                        "phantoms whose PGD ran every allowed step" if hit else "",
                    )
                )
            else:
                out += [Cell("–", "num"), Cell("–", "num")]
            rows.append(Row(out, "", {"noise": noise, "views": str(v)}))
    header = [
        Cell("noise"),
        Cell("views", "num"),
        Cell("FBP filter"),
        Cell("FBP validation PSNR", "num"),
        Cell("TV setting"),
        Cell("TV validation PSNR", "num"),
        Cell("TV PGD steps: mean", "num"),
        Cell("TV hit the maximum", "num"),
    ]
    return Table(
        "ct-settings",
        header,
        rows,
        caption="The baselines' settings per cell: tuned on dival's validation phantoms (never "
        "the test phantoms) by mean PSNR, or fixed by the config; TV's PGD steps per phantom "
        "(mean, largest, the maximum allowed) and how many phantoms hit that maximum.",
    )
