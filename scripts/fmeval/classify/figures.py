"""The classification report's figures: accuracy table, k and C curves, confusion, mistakes.

Every figure carries the random-weights banner when any of its cells had random weights.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fmeval.classify.download import read_labels
from fmeval.features.images import load_rgb
from fmeval.plots import save_figure, title


def _grid(n: int, width: float = 5.0, height: float = 3.6):
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def plot_table(acc: pd.DataFrame, random_init: bool, png: str, svg: str) -> None:
    """Heatmap of top-1 by (method, embedding) x (model, res), one panel per dataset."""
    datasets = sorted(acc["dataset"].unique())
    fig, axes = _grid(len(datasets), width=7.0, height=3.2)
    for ax, ds in zip(axes, datasets):
        pivot = acc[acc["dataset"] == ds].pivot_table(
            index=["method", "embedding", "setting"], columns=["model", "res"], values="top1"
        )
        ax.imshow(pivot.to_numpy(), cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (i, j), v in np.ndenumerate(pivot.to_numpy()):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="w", fontsize=9)
        ax.set_xticks(range(pivot.shape[1]), [f"{m}\n{r}" for m, r in pivot.columns], fontsize=8)
        ax.set_yticks(
            range(pivot.shape[0]), [" ".join(map(str, i)) for i in pivot.index], fontsize=8
        )
        chance = acc.loc[acc["dataset"] == ds, "chance_top1"].max()
        ax.set_title(f"{ds}: test top-1 % (chance {chance:.1f})", fontsize=10)
    fig.suptitle(title("classification accuracy by model x resolution", random_init))
    save_figure(fig, png, svg)


def plot_curves(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    xlabel: str,
    random_init: bool,
    png: str,
    svg: str,
    log_x: bool,
) -> None:
    """``y`` against ``x`` per (model, res, embedding), one panel per dataset."""
    datasets = sorted(frame["dataset"].unique())
    fig, axes = _grid(len(datasets))
    for ax, ds in zip(axes, datasets):
        sub = frame[frame["dataset"] == ds]
        for (m, r, e), g in sub.groupby(["model", "res", "embedding"]):
            g = g.sort_values(x)
            ax.plot(g[x], g[y], marker="o", label=f"{m} {r} {e}")
        ax.axhline(sub["chance_top1"].max(), color="grey", ls=":", label="chance")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(y.replace("_", " ") + " (%)")
        ax.set_title(ds, fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(title(f"{y.replace('_', ' ')} vs {xlabel}", random_init))
    save_figure(fig, png, svg)


def plot_confusion(best: pd.DataFrame, confusions: dict, random_init: bool, png, svg) -> None:
    fig, axes = _grid(len(best), width=5.0, height=4.6)
    for ax, row in zip(axes, best.itertuples()):
        c = confusions[(row.dataset, row.model, row.res)]
        c = c[c["embedding"] == row.embedding]
        classes = list(dict.fromkeys(c["true"]))
        m = c.pivot(index="true", columns="predicted", values="count").loc[classes, classes]
        ax.imshow(m.to_numpy(), cmap="Blues")
        for (i, j), v in np.ndenumerate(m.to_numpy()):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(
            f"{row.dataset}: linear, {row.model} {row.res} {row.embedding}, "
            f"C={row.C:g}\ntest top-1 {row.top1:.1f}%",
            fontsize=9,
        )
    fig.suptitle(title("confusion matrix of the best linear probe (by validation)", random_init))
    save_figure(fig, png, svg)


def plot_mistakes(
    best: pd.DataFrame, predictions: dict, manifests: dict, n: int, random_init: bool, png, svg
) -> None:
    """Up to ``n`` misclassified test images of each dataset's best probe."""
    shown = []
    for row in best.itertuples():
        pred = predictions[(row.dataset, row.model, row.res)]
        pred = pred[(pred["embedding"] == row.embedding) & (pred["label"] != pred["predicted"])]
        _, classes, images = read_labels(manifests[row.dataset])
        for rec in pred.head(n).itertuples():
            shown.append(
                (row.dataset, images[rec.image], classes[rec.label], classes[rec.predicted])
            )
    fig, axes = _grid(max(len(shown), 1), width=3.0, height=3.0)
    for ax, (ds, path, true, predicted) in zip(axes, shown):
        ax.imshow(load_rgb(path))
        ax.set_title(f"{ds}\ntrue {true}, predicted {predicted}", fontsize=8)
        ax.axis("off")
    if not shown:
        axes[0].text(0.5, 0.5, "no misclassified test images", ha="center")
        axes[0].axis("off")
    fig.suptitle(title("misclassified test images (best linear probe)", random_init))
    save_figure(fig, png, svg)
