"""The linear foreground probe: patch selection, leave-one-image-out CV over C, the final fit.

The model is Tutorial 5's: ``StandardScaler`` + ``LogisticRegression(C, max_iter,
random_state=0)`` on the training patches whose foreground fraction is clearly in or out
(below ``bg_threshold`` or above ``fg_threshold``), scored per held-out image by
``average_precision_score``. :func:`cross_validate` solves all folds of the C path at once
(see :mod:`fmeval.logistic`); :func:`cross_validate_reference` is the tutorial's loop, a
fresh scikit-learn fit per fold and C, kept for tests and the benchmark.
"""

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import expit
from sklearn.metrics import average_precision_score

from fmeval.errors import DataError
from fmeval.features.store import PatchFeatures, read_split_rows
from fmeval.io.atomic import atomic_path
from fmeval.io.tables import json_safe, write_json, write_table
from fmeval.learn.logistic import Design, cv_path, fit_all, fold_chunk
from fmeval.runtime import pick_device
from fmeval.seg.folds import Folds, assign_folds, memory_budget

log = logging.getLogger(__name__)

#: Feature-file metadata carried into every probe output (random weights are never silent).
CARRIED_META = (
    "dataset",
    "model",
    "model_name",
    "backend",
    "weights",
    "random_init",
    "res",
    "patch_size",
)


@dataclass
class ProbeData:
    """The selected patches: features, binary labels and the image each comes from."""

    x: np.ndarray  # (N, D) float32
    y: np.ndarray  # (N,) int, 1 = foreground
    image: np.ndarray  # (N,) int, index into ``images``
    images: list[str]
    meta: dict = field(default_factory=dict)


def select_patches(
    features: PatchFeatures, *, fg_threshold: float, bg_threshold: float, split: str = "train"
) -> ProbeData:
    """The ``split`` patches that are clearly foreground (> fg_threshold) or background (<
    bg_threshold).
    """
    names = [n for n in features.images if features.splits[n] == split]
    in_split = np.isin(features.image_index, [features.images.index(n) for n in names])
    fg = features.fg_fraction
    unmasked = sorted(
        {features.images[i] for i in np.unique(features.image_index[in_split & np.isnan(fg)])}
    )
    if unmasked:
        raise DataError(
            f"{split} images without a mask in the feature file: {unmasked[:5]}; every {split} "
            "image needs one"
        )
    keep = in_split & ((fg < bg_threshold) | (fg > fg_threshold))
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise DataError(
            f"no {split} patch has a foreground fraction below {bg_threshold} or above "
            f"{fg_threshold}; "
            "check the labels or widen probe.bg_threshold / probe.fg_threshold"
        )
    used = np.unique(features.image_index[rows])
    remap = np.full(len(features.images), -1)
    remap[used] = np.arange(len(used))
    return ProbeData(
        x=features.features[rows],
        y=(fg[rows] > fg_threshold).astype(np.int64),
        image=remap[features.image_index[rows]],
        images=[features.images[i] for i in used],
        meta={k: features.meta[k] for k in CARRIED_META if k in features.meta},
    )


def load_probe_data(
    path: str | os.PathLike, *, fg_threshold: float, bg_threshold: float, split: str = "train"
) -> ProbeData:
    """:func:`select_patches` from a feature file, reading only the rows it keeps (float32)."""
    rows = read_split_rows(
        path, split=split, keep=lambda fg: (fg < bg_threshold) | (fg > fg_threshold)
    )
    if rows.unmasked:
        raise DataError(
            f"{split} images without a mask in the feature file: {rows.unmasked[:5]}; every "
            f"{split} image needs one"
        )
    if not len(rows.fg_fraction):
        raise DataError(
            f"no {split} patch has a foreground fraction below {bg_threshold} or above "
            f"{fg_threshold}; check the labels or widen probe.bg_threshold / probe.fg_threshold"
        )
    used = np.unique(rows.image_index)
    remap = np.full(len(rows.images), -1)
    remap[used] = np.arange(len(used))
    return ProbeData(
        x=rows.features,
        y=(rows.fg_fraction > fg_threshold).astype(np.int64),
        image=remap[rows.image_index],
        images=[rows.images[i] for i in used],
        meta={k: rows.meta[k] for k in CARRIED_META if k in rows.meta},
    )


def _fold_counts(data: ProbeData, f: int, folds: Folds | None = None) -> dict:
    test = data.image == f if folds is None else folds.fold_of[data.image] == f
    return {
        "n_train": int((~test).sum()),
        "n_train_fg": int(data.y[~test].sum()),
        "n_test": int(test.sum()),
        "n_test_fg": int(data.y[test].sum()),
    }


def _skip_reason(data: ProbeData, f: int, folds: Folds | None = None) -> str | None:
    counts = _fold_counts(data, f, folds)
    if counts["n_test_fg"] in (0, counts["n_test"]):
        which = "foreground" if counts["n_test_fg"] else "background"
        held = "image has" if folds is None or folds.scheme == "loo" else "images have"
        return f"held-out {held} only {which} patches ({counts['n_test']}); AP is undefined"
    if counts["n_train_fg"] in (0, counts["n_train"]):
        return "training patches of this fold have one class"
    return None


def _check_classes(data: ProbeData) -> None:
    n_fg = int(data.y.sum())
    if n_fg in (0, len(data.y)):
        which = "foreground" if n_fg else "background"
        raise DataError(
            f"all {len(data.y)} selected training patches are {which}; the probe needs both "
            "classes. "
            "Check the labels' alpha channels."
        )


def _fold_rows(
    data: ProbeData, folds: Folds, cs: Sequence[float], aps: dict, extra: dict | None = None
) -> pd.DataFrame:
    rows = []
    for f in range(folds.k):
        reason = _skip_reason(data, f, folds)
        label = folds.label(f, data.images)
        if reason:
            log.warning("fold %s skipped: %s", label, reason)
        held = folds.images_of(f, data.images)
        for k, c in enumerate(cs):
            row = {"fold": f, "image": label, "images": held, "C": float(c)}
            row.update(_fold_counts(data, f, folds))
            row["ap"] = math.nan if reason else float(aps[f][k])
            row["skipped"] = reason is not None
            row["reason"] = reason or ""
            if extra:
                row.update({key: value[f][k] for key, value in extra.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def loo_folds(data: ProbeData) -> Folds:
    return assign_folds(data.images, cv="loo")


def standardised_design(data: ProbeData, device: str, budget: float) -> tuple[Design, float]:
    """The probe's design over ``data.x``, and the bytes of ``budget`` left beside it.

    On the CPU the rows are standardised one cache-sized block at a time (as fast per row as
    a cached float64 matrix, at half its memory: issue 13). On an accelerator the float64
    matrix is cached when it fits half of the budget left beside the features.
    """
    dev = pick_device(device)
    n, p = data.x.shape[0], data.x.shape[1] + 1
    free = budget - data.x.nbytes
    cache = dev.type != "cpu" and 8 * n * p <= free / 2
    return Design(data.x, device=dev, cache=cache), free - (8 * n * p if cache else 0)


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
    beside the features (see :func:`standardised_design`).
    """
    _check_classes(data)
    folds = folds or loo_folds(data)
    budget = memory_budget(None) if budget_bytes is None else budget_bytes
    scored = [f for f in range(folds.k) if _skip_reason(data, f, folds) is None]
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
    return _fold_rows(data, folds, cs, aps, {"n_iter": n_iter, "converged": converged})


def cross_validate_reference(
    data: ProbeData, cs: Sequence[float], *, max_iter: int, folds: Folds | None = None, **options
) -> pd.DataFrame:
    """The tutorial's loop: a fresh ``StandardScaler`` + ``LogisticRegression`` per fold and C.

    ``options`` go to ``LogisticRegression`` (e.g. ``tol=1e-10`` for a tightly converged reference).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check_classes(data)
    folds = folds or loo_folds(data)
    aps = {}
    for f in range(folds.k):
        if _skip_reason(data, f, folds):
            continue
        test = folds.fold_of[data.image] == f
        aps[f] = []
        for c in cs:
            clf = make_pipeline(
                StandardScaler(),
                LogisticRegression(C=c, max_iter=max_iter, random_state=0, **options),
            )
            clf.fit(data.x[~test], data.y[~test])
            aps[f].append(
                average_precision_score(data.y[test], clf.predict_proba(data.x[test])[:, 1])
            )
    return _fold_rows(data, folds, cs, aps)


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


# --- the final probe ---------------------------------------------------------------------


@dataclass
class Probe:
    """A fitted probe as plain arrays: ``p(fg) = sigmoid(coef . (x - mean) / scale +
    intercept)``.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    c: float
    meta: dict = field(default_factory=dict)

    def decision(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return z @ self.coef + self.intercept

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Foreground probability of each row of ``x``."""
        return expit(self.decision(x))


def fit_probe(
    data: ProbeData,
    c: float,
    *,
    max_iter: int,
    device: str = "cpu",
    budget_bytes: float | None = None,
) -> Probe:
    """The final probe on all selected patches at one C (same model as the CV)."""
    _check_classes(data)
    budget = memory_budget(None) if budget_bytes is None else budget_bytes
    z, _ = standardised_design(data, device, budget)
    fit = fit_all(z, data.y, c, max_iter=max_iter)
    if not fit.converged:
        log.warning("the final probe did not converge within max_iter=%d", max_iter)
    return Probe(
        z.mean.cpu().numpy(),
        z.scale.cpu().numpy(),
        fit.coef,
        fit.intercept,
        c,
        {
            **data.meta,
            "n_patches": len(data.y),
            "n_fg": int(data.y.sum()),
            "n_iter": fit.n_iter,
            "n_hessian": fit.n_hessian,
        },
    )


def save_probe(probe: Probe, path: str | os.PathLike) -> None:
    """Plain arrays in an ``.npz`` (no pickle), with the metadata as a JSON string."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                mean=probe.mean,
                scale=probe.scale,
                coef=probe.coef,
                intercept=np.float64(probe.intercept),
                c=np.float64(probe.c),
                meta=np.str_(json.dumps(json_safe(probe.meta))),
            )


def load_probe(path: str | os.PathLike) -> Probe:
    with np.load(Path(path), allow_pickle=False) as z:
        return Probe(
            mean=z["mean"],
            scale=z["scale"],
            coef=z["coef"],
            intercept=float(z["intercept"]),
            c=float(z["c"]),
            meta=json.loads(str(z["meta"])),
        )


def run_fit(
    *,
    features: str,
    summary: str,
    fg_threshold: float,
    bg_threshold: float,
    max_iter: int,
    device: str,
    probe: str,
    memory_mb: float | None = None,
) -> Probe:
    """Everything ``fit_probe`` does: the final classifier at the CV's best C."""
    best_c = json.loads(Path(summary).read_text())["best_c"]
    data = load_probe_data(features, fg_threshold=fg_threshold, bg_threshold=bg_threshold)
    fitted = fit_probe(
        data, best_c, max_iter=max_iter, device=device, budget_bytes=memory_budget(memory_mb)
    )
    save_probe(fitted, probe)
    log.info(
        "fitted the probe at C=%g on %d patches (%d foreground), on %s",
        best_c,
        len(data.y),
        int(data.y.sum()),
        pick_device(device),
    )
    return fitted
