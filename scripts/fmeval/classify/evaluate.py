"""The rule entry points: k-NN and linear-probe accuracy of each embedding of one cell.

Each writes a CSV table (one row per embedding and k, or per embedding and C), the test
predictions as Parquet, and (linear probe) the confusion matrix at the chosen C. Rows carry
the cell, the weights' identity and ``random_init``, so no table loses that it was made
with random weights.
"""

import logging

import numpy as np
import pandas as pd
import pyarrow as pa

from fmeval.classify.embeddings import EMBEDDINGS, Embeddings, read_embeddings
from fmeval.classify.knn import knn_accuracy, knn_predict
from fmeval.classify.linear import linear_probe
from fmeval.io.tables import write_table
from fmeval.plots import write_csv
from fmeval.runtime import pick_device

log = logging.getLogger(__name__)


def cell_columns(emb: Embeddings) -> dict:
    """The columns every table row shares: the cell, sizes, chance and the weights."""
    meta = emb.meta
    test = emb.labels[emb.splits == "test"]
    return {
        "dataset": meta.get("dataset"),
        "model": meta.get("model"),
        "res": meta.get("res"),
        "n_classes": len(emb.classes),
        "n_train": int((emb.splits == "train").sum()),
        "n_test": len(test),
        # the best constant guess: the most frequent test class
        "chance_top1": float(100 * np.bincount(test).max() / max(len(test), 1)),
        "weights": meta.get("weights"),
        "random_init": bool(meta.get("random_init", False)),
    }


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Long-form confusion counts (true, predicted, count) over every class pair."""
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predicted)), 1)
    t, p = np.meshgrid(np.arange(len(classes)), np.arange(len(classes)), indexing="ij")
    return pd.DataFrame(
        {
            "true": np.asarray(classes)[t.ravel()],
            "predicted": np.asarray(classes)[p.ravel()],
            "count": counts.ravel(),
        }
    )


def _predictions(emb: Embeddings, parts: list[dict], path: str) -> None:
    test_images = np.asarray(emb.images)[emb.splits == "test"]
    frame = pd.concat([pd.DataFrame({"image": test_images, **p}) for p in parts])
    write_table(pa.Table.from_pandas(frame, preserve_index=False), path, meta=emb.meta)


def score_knn(
    *,
    embeddings: str,
    k: list[int],
    temperature: float,
    device: str,
    table: str,
    predictions: str,
) -> None:
    """Weighted k-NN top-1 and top-5 accuracy for every embedding and k."""
    emb = read_embeddings(embeddings)
    common = cell_columns(emb)
    rows, parts = [], []
    for name in EMBEDDINGS:
        x_train, y_train = emb.split("train", name)
        x_test, y_test = emb.split("test", name)
        ranked = knn_predict(
            x_train,
            y_train,
            x_test,
            ks=list(k),
            temperature=temperature,
            n_classes=len(emb.classes),
            device=pick_device(device),
        )
        for kk, r in ranked.items():
            top1, top5 = knn_accuracy(r, y_test, kk)
            rows.append(
                {
                    **common,
                    "method": "knn",
                    "embedding": name,
                    "k": kk,
                    "temperature": temperature,
                    "top1": top1,
                    "top5": top5,
                }
            )
            parts.append({"embedding": name, "k": kk, "label": y_test, "predicted": r[:, 0]})
            log.info("%s k=%d: top-1 %.2f%%, top-5 %.2f%%", name, kk, top1, top5)
    write_csv(pd.DataFrame(rows), table)
    _predictions(emb, parts, predictions)


def fit_linear_probe(
    *,
    embeddings: str,
    cs: list[float],
    val_fraction: float,
    seed: int,
    max_iter: int,
    tol: float,
    table: str,
    predictions: str,
    confusion: str,
) -> None:
    """Validation accuracy along the C grid, and test accuracy at the chosen C, per embedding."""
    emb = read_embeddings(embeddings)
    common = cell_columns(emb)
    rows, parts, confusions = [], [], []
    for name in EMBEDDINGS:
        x_train, y_train = emb.split("train", name)
        x_test, y_test = emb.split("test", name)
        result = linear_probe(
            x_train,
            y_train,
            x_test,
            y_test,
            cs=cs,
            val_fraction=val_fraction,
            seed=seed,
            max_iter=max_iter,
            tol=tol,
        )
        for row in result.rows:
            chosen = row["selected"]
            rows.append(
                {
                    **common,
                    "method": "linear",
                    "embedding": name,
                    **row,
                    "top1": result.test_top1 if chosen else np.nan,
                    "top5": result.test_top5 if chosen else np.nan,
                }
            )
        parts.append(
            {"embedding": name, "C": result.best_c, "label": y_test, "predicted": result.predicted}
        )
        confusions.append(
            confusion_counts(y_test, result.predicted, emb.classes).assign(embedding=name)
        )
        log.info("%s: C=%g, test top-1 %.2f%%", name, result.best_c, result.test_top1)
    write_csv(pd.DataFrame(rows), table)
    write_csv(pd.concat(confusions)[["embedding", "true", "predicted", "count"]], confusion)
    _predictions(emb, parts, predictions)
