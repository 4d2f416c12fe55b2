"""The classification report section: the accuracy tables, and which probe the figures show.

The headline k-NN figure uses k = 20 (DINO's) when it is in the grid, else the first k;
the linear probe's is the test accuracy at the C chosen on the validation split. The
"best probe" is the linear probe with the highest validation accuracy of each dataset, so
the figure is not picked on the test set. Every figure carries the random-weights banner
when any of its cells was made with random weights.
"""

import logging
import os
from collections.abc import Sequence

import pandas as pd
import pyarrow.parquet as pq

from fmeval.classify.figures import plot_confusion, plot_curves, plot_mistakes, plot_table
from fmeval.plots import write_csv

log = logging.getLogger(__name__)

HEADLINE_K = 20


def headline(knn: pd.DataFrame, linear: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per (dataset, model, res, method, embedding), one row each."""
    k = HEADLINE_K if HEADLINE_K in set(knn["k"]) else int(knn["k"].iloc[0])
    a = knn[knn["k"] == k].assign(setting=f"k={k}")
    b = linear[linear["selected"]].assign(setting=lambda d: "C=" + d["C"].map("{:g}".format))
    cols = [
        "dataset",
        "model",
        "res",
        "method",
        "embedding",
        "setting",
        "top1",
        "top5",
        "chance_top1",
        "n_classes",
        "n_train",
        "n_test",
        "random_init",
    ]
    if "protocol" in knn and "protocol" in linear:  # issue 25: the protocol and its departures
        cols.insert(6, "protocol")
    return pd.concat([a[cols], b[cols]]).sort_values(cols[:5]).reset_index(drop=True)


def best_probes(linear: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, the selected linear probe with the highest validation accuracy."""
    chosen = linear[linear["selected"]].sort_values(
        ["dataset", "val_top1", "model", "res", "embedding"],
        ascending=[True, False, True, True, True],
    )
    return chosen.groupby("dataset", as_index=False).head(1).reset_index(drop=True)


def _cell(path: str) -> tuple[str, str, int]:
    res, model, dataset = os.path.normpath(path).split(os.sep)[-4:-1][::-1]
    return dataset, model, int(res)


def report_classify(
    *,
    knn: Sequence[str],
    linear: Sequence[str],
    confusion: Sequence[str],
    predictions: Sequence[str],
    datasets: Sequence[str],
    manifests: Sequence[str],
    n_misclassified: int,
    outputs: dict[str, str],
) -> None:
    """Write the section's CSV tables and PNG/SVG figures (``outputs`` maps name to path);
    ``manifests`` are the ``datasets``' manifests, in their order."""
    out = outputs
    knn = pd.concat([pd.read_csv(p) for p in knn], ignore_index=True)
    linear = pd.concat([pd.read_csv(p) for p in linear], ignore_index=True)
    random_init = bool(knn["random_init"].any() or linear["random_init"].any())
    acc = headline(knn, linear)
    write_csv(acc, out["accuracy"])
    write_csv(pd.concat([knn, linear], ignore_index=True), out["curves"])
    plot_table(acc, random_init, out["table_png"], out["table_svg"])
    for name, table, x, y in (("knn", knn, "k", "top1"), ("linear", linear, "C", "val_top1")):
        png, svg = out[f"{name}_png"], out[f"{name}_svg"]
        plot_curves(
            table, x=x, y=y, xlabel=x, random_init=random_init, png=png, svg=svg, log_x=True
        )
    confusions = {_cell(p): pd.read_csv(p) for p in confusion}
    predicted = {_cell(p): pq.read_table(p).to_pandas() for p in predictions}
    best = best_probes(linear)
    plot_confusion(best, confusions, random_init, out["confusion_png"], out["confusion_svg"])
    plot_mistakes(
        best,
        predicted,
        dict(zip(datasets, manifests, strict=True)),
        n_misclassified,
        random_init,
        out["mistakes_png"],
        out["mistakes_svg"],
    )
    log.info("best probes:\n%s", best[["dataset", "model", "res", "embedding", "C", "top1"]])
