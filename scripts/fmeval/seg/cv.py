"""Cross-validation of the foreground probe over C: one row per (fold, C), and the best C.

Folds are leave-one-image-out unless :mod:`fmeval.seg.folds` assigns k groups; all folds of
the C path are solved at once (:func:`fmeval.learn.logistic.cv_path`). A fold whose held-out
images have one class is skipped (AP NaN, ``skipped``, ``reason``).
"""

import logging
import math
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
from scipy.special import expit
from sklearn.metrics import average_precision_score

from fmeval.errors import DataError
from fmeval.io.tables import write_json, write_table
from fmeval.learn.logistic import cv_path, fold_chunk
from fmeval.runtime import pick_device
from fmeval.seg.folds import Folds, assign_folds, memory_budget
from fmeval.seg.probe import ProbeData, check_classes, load_probe_data, standardised_design

log = logging.getLogger(__name__)


def fold_counts(data: ProbeData, f: int, folds: Folds | None = None) -> dict:
    """Training and held-out patches of fold ``f``, and how many are foreground."""
    test = data.image == f if folds is None else folds.fold_of[data.image] == f
    return {
        "n_train": int((~test).sum()),
        "n_train_fg": int(data.y[~test].sum()),
        "n_test": int(test.sum()),
        "n_test_fg": int(data.y[test].sum()),
    }


def skip_reason(data: ProbeData, f: int, folds: Folds | None = None) -> str | None:
    """Why fold ``f`` cannot be scored (one class held out or trained on), or None."""
    counts = fold_counts(data, f, folds)
    if counts["n_test_fg"] in (0, counts["n_test"]):
        which = "foreground" if counts["n_test_fg"] else "background"
        held = "image has" if folds is None or folds.scheme == "loo" else "images have"
        return f"held-out {held} only {which} patches ({counts['n_test']}); AP is undefined"
    if counts["n_train_fg"] in (0, counts["n_train"]):
        return "training patches of this fold have one class"
    return None


def fold_rows(
    data: ProbeData, folds: Folds, cs: Sequence[float], aps: dict, extra: dict | None = None
) -> pd.DataFrame:
    """The CV table: ``aps[f][k]`` of each scored fold ``f`` and C ``cs[k]``, skips recorded."""
    rows = []
    for f in range(folds.k):
        reason = skip_reason(data, f, folds)
        label = folds.label(f, data.images)
        if reason:
            log.warning("fold %s skipped: %s", label, reason)
        held = folds.images_of(f, data.images)
        for k, c in enumerate(cs):
            row = {"fold": f, "image": label, "images": held, "C": float(c)}
            row.update(fold_counts(data, f, folds))
            row["ap"] = math.nan if reason else float(aps[f][k])
            row["skipped"] = reason is not None
            row["reason"] = reason or ""
            if extra:
                row.update({key: value[f][k] for key, value in extra.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def loo_folds(data: ProbeData) -> Folds:
    return assign_folds(data.images, cv="loo")


def cross_validate(
    data: ProbeData,
    cs: Sequence[float],
    *,
    max_iter: int,
    device: str = "cpu",
    tol: float = 1e-8,
    folds: Folds | None = None,
    budget_bytes: float | None = None,
) -> pd.DataFrame:
    """CV over ``cs`` (leave-one-image-out unless ``folds``): one row per (fold, C).

    A fold whose held-out images have one class is skipped (AP NaN, ``skipped``, ``reason``).
    Folds are solved in chunks that fit ``budget_bytes`` (default: half the available memory)
    beside the features (see :func:`fmeval.seg.probe.standardised_design`).
    """
    check_classes(data)
    folds = folds or loo_folds(data)
    budget = memory_budget(None) if budget_bytes is None else budget_bytes
    scored = [f for f in range(folds.k) if skip_reason(data, f, folds) is None]
    aps: dict[int, list[float]] = {}
    n_iter = {f: [0] * len(cs) for f in range(folds.k)}
    converged = {f: [True] * len(cs) for f in range(folds.k)}
    if scored:
        design, free = standardised_design(data, device, budget)
        chunk = fold_chunk(design.n, design.p, free)
        log.info(
            "CV %s: %d fold(s) in chunks of %d, standardised matrix %s (budget %.0f MB)",
            folds.scheme,
            len(scored),
            chunk,
            "cached" if design.cached else "in blocks",
            budget / 2**20,
        )
        row_fold = folds.fold_of[data.image]
        held_out, iters, conv = cv_path(
            design, data.y, row_fold, scored, cs, max_iter=max_iter, tol=tol, fold_batch=chunk
        )
        for j, f in enumerate(scored):
            test = row_fold == f
            aps[f] = [
                average_precision_score(data.y[test], expit(held_out[j][k])) for k in range(len(cs))
            ]
            n_iter[f] = [int(v) for v in iters[:, j]]
            converged[f] = [bool(v) for v in conv[:, j]]
            if not all(converged[f]):
                log.warning("fold %d did not converge within max_iter=%d", f, max_iter)
    return fold_rows(data, folds, cs, aps, {"n_iter": n_iter, "converged": converged})


def summarise_cv(table: pd.DataFrame, cs: Sequence[float]) -> dict:
    """Mean and sample sd of the fold APs per C, the folds skipped, and the best C.

    The best C has the highest mean AP; a tie goes to the smaller C (the stronger penalty).
    """
    per_c = []
    for c in cs:
        ap = table.loc[(table["C"] == c) & ~table["skipped"], "ap"].to_numpy(dtype=float)
        per_c.append(
            {
                "C": float(c),
                "mean_ap": float(ap.mean()) if len(ap) else None,
                "sd_ap": float(ap.std(ddof=1)) if len(ap) > 1 else (0.0 if len(ap) else None),
                "n_folds": int(len(ap)),
            }
        )
    scored = [p for p in per_c if p["mean_ap"] is not None]
    if not scored:
        raise DataError(
            "every CV fold was skipped (each held-out image has one class), so no C can be chosen; "
            "see the `reason` column of cv.parquet"
        )
    best = max(scored, key=lambda p: (p["mean_ap"], -p["C"]))
    skipped = table.loc[table["skipped"]].drop_duplicates("image")
    return {
        "per_c": per_c,
        "best_c": best["C"],
        "best_mean_ap": best["mean_ap"],
        "skipped_folds": [{"image": r.image, "reason": r.reason} for r in skipped.itertuples()],
    }


def run_cross_validation(
    *,
    features: str,
    cs: Sequence[float],
    fg_threshold: float,
    bg_threshold: float,
    max_iter: int,
    device: str,
    table: str,
    summary: str,
    cv: str = "auto",
    folds: int = 10,
    seed: int = 0,
    memory_mb: float | None = None,
) -> dict:
    """Everything ``cross_validate_probe`` does: select, cross-validate, write the table and
    summary.
    """
    data = load_probe_data(features, fg_threshold=fg_threshold, bg_threshold=bg_threshold)
    if data.meta.get("random_init"):
        log.warning("features come from RANDOM-INIT weights: the APs are for testing only")
    split = assign_folds(data.images, cv=cv, k=folds, seed=seed)
    folds_table = cross_validate(
        data,
        cs,
        max_iter=max_iter,
        device=device,
        folds=split,
        budget_bytes=memory_budget(memory_mb),
    )
    result = summarise_cv(folds_table, cs)
    meta = {
        **data.meta,
        "device": str(pick_device(device)),  # where the CV ran (features: their own file)
        "cv": split.scheme,
        "folds": split.k,
        "seed": seed,
        "cs": cs,
        "fg_threshold": fg_threshold,
        "bg_threshold": bg_threshold,
        "max_iter": max_iter,
    }
    write_table(pa.Table.from_pandas(folds_table, preserve_index=False), table, meta=meta)
    write_json({**meta, **result}, summary)
    log.info(
        "best C %g (mean AP %.4f) over %d fold(s), on %s",
        result["best_c"],
        result["best_mean_ap"],
        split.k,
        meta["device"],
    )
    return result
