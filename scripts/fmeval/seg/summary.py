"""The segmentation section of the report: AP tables, AP plots and held-out test scores.

Every AP comes with its chance level, ``chance_ap``: the foreground share of the held-out
patches (the AP of a score that ranks patches at random). Every table has ``weights`` and
``random_init`` columns, and every plot title carries the random-weights banner when any
result used random weights.
"""

import json
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pyarrow.parquet as pq

from fmeval.io.tables import read_meta
from fmeval.plots import save_figure, title, write_csv

KEYS = ["dataset", "model", "res"]


def read_cv(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """All fold rows of the given cv.parquet files, with their dataset, model, res and weights."""
    frames = []
    for path in paths:
        meta = read_meta(path)
        frame = pq.read_table(path).to_pandas()
        for key in (*KEYS, "weights", "random_init"):
            frame[key] = meta.get(key)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(
            columns=[
                *KEYS,
                *("image", "C", "ap", "n_test", "n_test_fg", "skipped"),
                *("weights", "random_init"),
            ]
        )
    out = pd.concat(frames, ignore_index=True)
    out["res"] = out["res"].astype(int)
    out["random_init"] = out["random_init"].astype(bool)
    return out


def ap_table(cv: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample sd of the fold AP per (dataset, model, res, C), the number of folds and
    chance (the mean foreground share of the held-out images' patches).
    """
    scored = cv[~cv["skipped"].astype(bool)]
    scored = scored.assign(chance=scored["n_test_fg"] / scored["n_test"])
    group = scored.groupby([*KEYS, "C"], sort=True)
    table = pd.DataFrame(
        {
            "mean_ap": group["ap"].mean(),
            "sd_ap": group["ap"].std(ddof=1),
            "n_folds": group["ap"].count(),
            "chance_ap": group["chance"].mean(),
        }
    )
    skipped = (
        cv[cv["skipped"].astype(bool)].groupby([*KEYS, "C"])["image"].count().rename("n_skipped")
    )
    ident = cv.groupby([*KEYS, "C"])[["weights", "random_init"]].first()
    table = ident.join(table).join(skipped)
    table["n_folds"] = table["n_folds"].fillna(0).astype(int)
    table["n_skipped"] = table["n_skipped"].fillna(0).astype(int)
    cols = ["mean_ap", "sd_ap", "n_folds", "n_skipped", "chance_ap", "weights", "random_init"]
    return table.reset_index()[[*KEYS, "C", *cols]]


def best_table(ap: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model, res): the best C (highest mean AP; ties to the smaller C)."""
    ranked = ap.dropna(subset=["mean_ap"]).sort_values(
        [*KEYS, "mean_ap", "C"], ascending=[True, True, True, False, True]
    )
    return ranked.groupby(KEYS, sort=True).head(1).reset_index(drop=True)


def read_test_scores(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Held-out test AP and IoU per (dataset, model, res, image), from segment_test_images'
    JSON files (``paths``: the files, or the per-cell folders that hold them)."""
    files = [f for p in map(Path, paths) for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    rows = [json.loads(f.read_text()) for f in files]
    cols = [
        *KEYS,
        "image",
        "C",
        "has_mask",
        "ap",
        "chance_ap",
        "iou",
        "n_patches",
        "n_pred_fg",
        "n_true_fg",
        "max_score",
        "median_filter",
        "threshold",
        "weights",
        "random_init",
    ]
    table = pd.DataFrame(rows, columns=cols)
    return table.sort_values([*KEYS, "image"]).reset_index(drop=True)


def _ap_line(ax, part: pd.DataFrame, x: str, *, label: str) -> pd.DataFrame:
    """Mean AP (± sd) of ``part`` against ``x``, and its chance level dashed in the same
    colour; returns ``part`` sorted by ``x``."""
    part = part.sort_values(x)
    line = ax.errorbar(
        part[x], part["mean_ap"], yerr=part["sd_ap"].fillna(0), marker="o", capsize=3, label=label
    )
    ax.plot(part[x], part["chance_ap"], ls="--", color=line[0].get_color(), lw=1)
    return part


def _finish(fig, ax, text: str, *, random_init: bool, lines: bool, png: str, svg: str) -> None:
    """The chance key, the title (with the banner) and, when there are ``lines``, the legend;
    write the figure."""
    ax.plot([], [], ls="--", color="grey", label="chance (foreground share), same colour")
    ax.set_title(title(text, random_init), fontsize="medium")
    if lines:
        ax.legend(fontsize="small")
    save_figure(fig, png, svg)


def plot_ap_vs_c(ap: pd.DataFrame, *, png: str, svg: str, random_init: bool) -> None:
    """Mean AP (± sd) against C, one line per (dataset, model, res), chance dashed."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for (dataset, model, res), part in ap.groupby(KEYS, sort=True):
        _ap_line(ax, part, "C", label=f"{dataset} {model} {res}px")
    ax.set(xscale="log", xlabel="C (inverse L2 strength)", ylabel="mean AP over held-out folds")
    text = "Probe AP vs C (held-out CV folds)"
    _finish(fig, ax, text, random_init=random_init, lines=len(ap) > 0, png=png, svg=svg)


def plot_best_vs_res(best: pd.DataFrame, *, png: str, svg: str, random_init: bool) -> None:
    """Best-C mean AP (± sd) against resolution, one line per (dataset, model), chance dashed."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for (dataset, model), part in best.groupby(["dataset", "model"], sort=True):
        part = _ap_line(ax, part, "res", label=f"{dataset} {model}")
        for r in part.itertuples():
            ax.annotate(
                f"C={r.C:g}",
                (r.res, r.mean_ap),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize="x-small",
            )
    ax.set(xlabel="resolution (image height, px)", ylabel="mean AP at the best C")
    text = "Best probe AP vs resolution"
    _finish(fig, ax, text, random_init=random_init, lines=len(best) > 0, png=png, svg=svg)


def run_report(
    *,
    cv: Sequence[str],
    scores: Sequence[str],
    ap: str,
    best: str,
    test: str,
    ap_vs_c_png: str,
    ap_vs_c_svg: str,
    best_vs_res_png: str,
    best_vs_res_svg: str,
) -> None:
    """Everything ``report_segmentation`` does."""
    folds, test_scores = read_cv(cv), read_test_scores(scores)
    ap_by_c = ap_table(folds)
    best_c = best_table(ap_by_c)
    random_init = bool(folds["random_init"].any()) or bool(
        test_scores["random_init"].astype(bool).any()
    )
    write_csv(ap_by_c, ap)
    write_csv(best_c, best)
    write_csv(test_scores, test)
    plot_ap_vs_c(ap_by_c, png=ap_vs_c_png, svg=ap_vs_c_svg, random_init=random_init)
    plot_best_vs_res(best_c, png=best_vs_res_png, svg=best_vs_res_svg, random_init=random_init)
