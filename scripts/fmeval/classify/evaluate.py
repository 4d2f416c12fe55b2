"""The rule entry points: k-NN and linear-probe accuracy of each embedding of one cell.

Each writes a CSV table (one row per embedding and k, or per embedding and C), the test
predictions as Parquet, and (linear probe) the confusion matrix at the chosen C. Rows carry
the cell, the weights' identity and ``random_init``, so no table loses that it was made
with random weights.
"""

import logging
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa

from fmeval.classify.embeddings import EMBEDDINGS, Embeddings, read_embeddings
from fmeval.classify.knn import knn_accuracy, knn_predict
from fmeval.classify.linear import linear_probe
from fmeval.classify.logreg import dinov2_log_regression
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


def _predictions(emb: Embeddings, parts: list[dict], path: str, protocol: str | None) -> None:
    test_images = np.asarray(emb.images)[emb.splits == "test"]
    frame = pd.concat([pd.DataFrame({"image": test_images, **p}) for p in parts])
    meta = emb.meta if protocol is None else {**emb.meta, "protocol": protocol}
    write_table(pa.Table.from_pandas(frame, preserve_index=False), path, meta=meta)


# (embeddings, embedding name) -> (table rows, prediction parts) of that embedding
Scorer = Callable[..., tuple[list[dict], list[dict]]]


def _score_embeddings(
    embeddings: str,
    score: Scorer,
    *,
    method: str,
    table: str,
    predictions: str,
    protocol: str | None = None,
) -> tuple[Embeddings, list[dict]]:
    """``score`` every embedding of the cell; write its rows, with the cell's columns, as the
    ``table`` CSV and its test predictions to ``predictions``; return the embeddings and the
    prediction parts (each names its embedding). ``protocol`` (the protocol and its
    departures, fmeval.classify.protocols) goes into every row and the metadata."""
    emb = read_embeddings(embeddings)
    common = {**cell_columns(emb), "method": method}
    if protocol is not None:
        common["protocol"] = protocol
    rows, parts = [], []
    for name in EMBEDDINGS:
        found, predicted = score(emb, name)
        rows += [{**common, "embedding": name, **row} for row in found]
        parts += [{"embedding": name, **part} for part in predicted]
    write_csv(pd.DataFrame(rows), table)
    _predictions(emb, parts, predictions, protocol)
    return emb, parts


def knn_scores(
    emb: Embeddings,
    name: str,
    *,
    ks: list[int],
    temperature: float,
    device,
    vote: str = "dino",
) -> tuple[list[dict], list[dict]]:
    """Weighted k-NN top-1 and top-5 accuracy of one embedding for every k, and its predictions."""
    x_test, y_test = emb.split("test", name)
    ranked = knn_predict(
        *emb.split("train", name),
        x_test,
        ks=ks,
        temperature=temperature,
        n_classes=len(emb.classes),
        device=device,
        vote=vote,
    )
    rows, parts = [], []
    for kk, r in ranked.items():
        top1, top5 = knn_accuracy(r, y_test, kk, vote=vote)
        rows.append({"k": kk, "temperature": temperature, "top1": top1, "top5": top5})
        parts.append({"k": kk, "label": y_test, "predicted": r[:, 0]})
        log.info("%s k=%d: top-1 %.2f%%, top-5 %.2f%%", name, kk, top1, top5)
    return rows, parts


def linear_scores(
    emb: Embeddings,
    name: str,
    linear_method: str = "standardised",
    **options,
) -> tuple[list[dict], list[dict]]:
    """Validation accuracy of one embedding along the C grid, test accuracy at the chosen C
    (``options``: those of :func:`linear_probe`, or of :func:`dinov2_log_regression` for
    ``linear_method`` log_regression), and its predictions."""
    x_test, y_test = emb.split("test", name)
    fit = dinov2_log_regression if linear_method == "log_regression" else linear_probe
    result = fit(*emb.split("train", name), x_test, y_test, **options)
    rows = [
        {
            **row,
            "top1": result.test_top1 if row["selected"] else np.nan,
            "top5": result.test_top5 if row["selected"] else np.nan,
        }
        for row in result.rows
    ]
    log.info("%s: C=%g, test top-1 %.2f%%", name, result.best_c, result.test_top1)
    return rows, [{"C": result.best_c, "label": y_test, "predicted": result.predicted}]


def score_knn(
    *,
    embeddings: str,
    k: list[int],
    temperature: float,
    device: str,
    table: str,
    predictions: str,
    vote: str = "dino",
    protocol: str | None = None,
) -> None:
    """Weighted k-NN top-1 and top-5 accuracy for every embedding and k."""
    score = partial(
        knn_scores, ks=list(k), temperature=temperature, device=pick_device(device), vote=vote
    )
    _score_embeddings(
        embeddings, score, method="knn", table=table, predictions=predictions, protocol=protocol
    )


def fit_linear_probe(
    *,
    embeddings: str,
    cs: list[float] | None,
    val_fraction: float,
    seed: int,
    max_iter: int,
    tol: float,
    table: str,
    predictions: str,
    confusion: str,
    linear_method: str = "standardised",
    protocol: str | None = None,
) -> None:
    """Validation accuracy along the C grid, and test accuracy at the chosen C, per embedding;
    the confusion counts at the chosen C. ``cs`` None: DINOv2's grid (log_regression only)."""
    score = partial(
        linear_scores,
        linear_method=linear_method,
        cs=cs,
        val_fraction=val_fraction,
        seed=seed,
        max_iter=max_iter,
        tol=tol,
    )
    emb, parts = _score_embeddings(
        embeddings,
        score,
        method="linear",
        table=table,
        predictions=predictions,
        protocol=protocol,
    )
    confusions = [
        confusion_counts(p["label"], p["predicted"], emb.classes).assign(embedding=p["embedding"])
        for p in parts
    ]
    write_csv(pd.concat(confusions)[["embedding", "true", "predicted", "count"]], confusion)
