"""The CT section of the report: ct.csv, PSNR/SSIM-vs-views plots and example reconstructions.

- ``ct.csv``: one row per (method, views, noise) with ``n`` and, per metric,
  ``{psnr,ssim}_{mean,sd,ci_low,ci_high}`` (Student-t 95% CI of the mean over the
  phantoms), plus ``weights`` and ``random_init``; (issue 26) ``setting`` (the options used,
  e.g. the tuned ``lam``) and ``tuned``; for TV ``iter_mean``, ``iter_max``, ``max_iter`` and
  ``hit_max`` (phantoms whose PGD ran all ``max_iter`` steps), ``objective_mean``; and per
  metric the paired difference against the cell's best baseline
  (:func:`fmeval.ct.paired.paired_table`: ``{metric}_baseline``, ``_diff_mean``,
  ``_diff_ci_low``, ``_diff_ci_high``, ``_wins``, ``_losses``, ``_established``).
- ``{psnr,ssim}_vs_views.{png,svg}``: one panel per noise level, one line per method,
  log-scaled view axis, 95% CI error bars.
- ``examples_{sparse,dense}.png``: ground truth and every method for the median and
  the worst phantom, ranked by ``RANK_METRIC`` (PSNR) averaged over the methods, at the
  sparse and the dense view count of ``ct.examples``; the figure says so.

Views run from sparse to dense (ascending) in the table and the plots alike.

Every table row and every figure carries the random-weights banner when RAM used
random weights.
"""

import logging
from collections.abc import Mapping

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from fmeval.ct.metrics import METRICS, summarise_cells
from fmeval.ct.paired import paired_table
from fmeval.ct.phantoms import load_phantoms
from fmeval.ct.scores import read_scores
from fmeval.plots import RANDOM_BANNER, save_figure, title, write_csv

log = logging.getLogger(__name__)

CELL = ["method", "views", "noise"]
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM"}
RANK_METRIC = "psnr"  # what picks the median and the worst example phantom


def ct_table(
    scores: pd.DataFrame, *, methods: list[str] | None = None, noises: list[str] | None = None
) -> pd.DataFrame:
    """The per-cell summary written as ct.csv: noise levels and methods in the given (config) order,
    then views ascending (sparse to dense), as in the plots."""
    table = summarise_cells(scores, by=[*CELL, "gain", "sigma"])
    ident = scores.groupby(CELL, sort=False).agg(
        weights=("weights", "first"), random_init=("random_init", "any")
    )
    table = table.merge(ident.reset_index(), on=CELL, how="left")
    table = table.merge(convergence(scores), on=CELL, how="left")
    table = table.merge(paired_table(scores), on=CELL, how="left")
    order = {
        "noise": {n: i for i, n in enumerate(noises or sorted(set(table["noise"])))},
        "method": {m: i for i, m in enumerate(methods or sorted(set(table["method"])))},
    }
    rank = {key: table[key].map(ranks) for key, ranks in order.items()}
    table = table.assign(_noise=rank["noise"], _method=rank["method"])
    table = table.sort_values(["_noise", "_method", "views"], ascending=True, kind="stable")
    return table.drop(columns=["_noise", "_method"]).reset_index(drop=True)


def convergence(scores: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the setting, whether tuned, and TV's PGD steps (NaN for other methods)."""
    scores = scores.assign(_hit=scores["iterations"] >= scores["max_iter"])
    return (
        scores.groupby(CELL, sort=False)
        .agg(
            setting=("setting", "first"),
            tuned=("tuned", "any"),
            iter_mean=("iterations", "mean"),
            iter_max=("iterations", "max"),
            max_iter=("max_iter", "first"),
            hit_max=("_hit", "sum"),
            objective_mean=("objective", "mean"),
            validation_psnr=("validation_psnr", "first"),
        )
        .reset_index()
        .astype({"hit_max": "int64"})
    )


def plot_metric_vs_views(
    table: pd.DataFrame,
    metric: str,
    *,
    methods: list[str],
    noises: list[str],
    png: str,
    svg: str,
    random_init: bool,
) -> None:
    """Mean ``metric`` (95% CI bars) against views, one panel per noise level, one line
    per method.
    """
    fig, axes = plt.subplots(
        1,
        len(noises),
        figsize=(4.2 * len(noises), 4.2),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    views = sorted(set(table["views"]))
    for ax, noise in zip(axes[0], noises):
        for method in methods:
            part = table[(table["noise"] == noise) & (table["method"] == method)].sort_values(
                "views"
            )
            if part.empty:
                continue
            mean = part[f"{metric}_mean"].to_numpy()
            err = np.vstack([mean - part[f"{metric}_ci_low"], part[f"{metric}_ci_high"] - mean])
            ax.errorbar(
                part["views"], mean, yerr=np.nan_to_num(err), marker="o", capsize=3, label=method
            )
        level = table[table["noise"] == noise].iloc[0] if (table["noise"] == noise).any() else None
        detail = f"\ngain {level['gain']:g}, sigma {level['sigma']:g}" if level is not None else ""
        ax.set(xscale="log", xlabel="views")
        ax.set_title(f"noise: {noise}{detail}", fontsize="medium")
        ax.set_xticks(views, [str(v) for v in views])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel(LABELS[metric])
    axes[0][-1].legend(fontsize="small")
    fig.suptitle(
        title(f"{metric.upper()} vs number of views (mean, 95% CI)", random_init),
        fontsize="medium",
        color="#b00020" if random_init else "black",
    )
    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: the banner is searchable
        save_figure(fig, png, svg)


def pick_examples(scores: pd.DataFrame, *, views: int, noise: str) -> dict[str, int]:
    """The median and the worst phantom at (views, noise), by their ``RANK_METRIC`` averaged
    over the methods.
    """
    part = scores[(scores["views"] == views) & (scores["noise"] == noise)]
    mean_psnr = part.groupby("phantom")[RANK_METRIC].mean().sort_values(kind="stable")
    if mean_psnr.empty:
        return {}
    return {
        "median": int(mean_psnr.index[(len(mean_psnr) - 1) // 2]),
        "worst": int(mean_psnr.index[0]),
    }


def plot_examples(
    gt: np.ndarray,
    images: Mapping[str, np.ndarray],
    scores: pd.DataFrame,
    *,
    views: int,
    noise: str,
    png: str,
    svg: str,
    random_init: bool,
) -> None:
    """GT and each method's reconstruction for the median and the worst phantom of
    (views, noise).
    """
    picks = pick_examples(scores, views=views, noise=noise)
    cols = ["GT", *images]
    fig, axes = plt.subplots(
        len(picks) or 1,
        len(cols),
        figsize=(2.6 * len(cols), 2.9 * max(len(picks), 1)),
        squeeze=False,
    )
    cell = scores[(scores["views"] == views) & (scores["noise"] == noise)].set_index(
        ["method", "phantom"]
    )
    for row, (label, index) in enumerate(picks.items()):
        for col, name in enumerate(cols):
            ax = axes[row][col]
            image = gt[index] if name == "GT" else images[name][index]
            ax.imshow(image, cmap="gray", vmin=float(gt[index].min()), vmax=float(gt[index].max()))
            ax.set_xticks([])
            ax.set_yticks([])
            if name == "GT":
                ax.set_title(f"GT, {label} by {RANK_METRIC.upper()} (#{index})", fontsize="small")
            else:
                s = cell.loc[(name, index)]
                ax.set_title(
                    f"{name.upper()}: {s['psnr']:.2f} dB, SSIM {s['ssim']:.3f}", fontsize="small"
                )
    chosen_by = f"{RANK_METRIC.upper()} averaged over {', '.join(m.upper() for m in images)}"
    fig.suptitle(
        title(
            f"{views} views, noise {noise}: the median and the worst of {gt.shape[0]} phantoms"
            f"\nby {chosen_by}",
            random_init,
        ),
        fontsize="medium",
        color="#b00020" if random_init else "black",
    )
    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: the banner is searchable
        save_figure(fig, png, svg)


def run_ct_report(
    *,
    metrics: str,
    phantoms: str,
    examples: Mapping[str, Mapping],
    methods: list[str],
    noises: list[str],
    outputs: Mapping[str, str],
) -> pd.DataFrame:
    """Rule ``report_ct``.

    ``examples`` maps ``sparse``/``dense`` to ``{"views", "noise", "images": {method: .npy}}``;
    ``outputs`` are the rule's: ``table`` (ct.csv), then ``<metric>_png``/``<metric>_svg``
    and ``sparse_png``/``sparse_svg``/``dense_png``/``dense_svg``.
    """

    def figure(name: str) -> dict[str, str]:
        return {"png": outputs[f"{name}_png"], "svg": outputs[f"{name}_svg"]}

    scores, meta = read_scores(metrics)
    random_init = bool(meta.get("random_init")) or bool(scores["random_init"].any())
    table = ct_table(scores, methods=methods, noises=noises)
    write_csv(table, outputs["table"])
    for metric in METRICS:
        plot_metric_vs_views(
            table, metric, methods=methods, noises=noises, random_init=random_init, **figure(metric)
        )
    gt = load_phantoms(phantoms)
    for setting, spec in examples.items():
        images = {m: np.load(p) for m, p in spec["images"].items()}
        plot_examples(
            gt,
            images,
            scores,
            views=int(spec["views"]),
            noise=spec["noise"],
            random_init=random_init,
            **figure(setting),
        )
    if random_init:
        log.warning("%s: RAM used random weights", RANDOM_BANNER)
    return table
