"""Linear probe: logistic regression on standardised embeddings, C chosen on a validation split.

The validation split is carved from the training images (stratified, seeded); each C of the
grid is fitted on the rest and scored on it; the best C (the smallest among ties) is refitted
on all training images and scored on the test split. Standardisation is fitted on the rows
each model is fitted on. Two classes use fmeval's batched Newton solver
(:mod:`fmeval.learn.logistic`, the same objective as scikit-learn's); more classes use
scikit-learn's multinomial ``LogisticRegression`` (lbfgs).
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from fmeval.classify.splits import stratified_split
from fmeval.learn.design import standardise
from fmeval.learn.logistic import fit_full
from fmeval.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class Probe:
    """A fitted probe: scores of every class for new rows."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (n_classes or 1, D)
    intercept: np.ndarray
    classes: np.ndarray  # the label of each score column
    converged: bool

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        s = z @ self.coef.T + self.intercept
        return np.concatenate([-s, s], 1) / 2 if s.shape[1] == 1 else s

    def rank(self, x: np.ndarray, n: int) -> np.ndarray:
        """(N, n) labels, best first."""
        return self.classes[np.argsort(-self.scores(x), axis=1, kind="stable")[:, :n]]


def fit_probe(x: np.ndarray, y: np.ndarray, c: float, *, max_iter: int, tol: float) -> Probe:
    """``make_pipeline(StandardScaler(), LogisticRegression(C=c))`` fitted on (x, y)."""
    y = np.asarray(y)
    if len(np.unique(y)) == 2:
        st = standardise(x, device=torch.device("cpu"))
        pos = (y == y.max()).astype(np.float64)
        coef, intercept, converged = fit_full(st.z1, pos, c, max_iter=max_iter, tol=tol)
        return Probe(
            st.mean, st.scale, coef[None, :], np.array([intercept]), np.unique(y), converged
        )
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=max_iter, tol=tol)
    model.fit(scaler.transform(x), y)
    converged = bool(np.all(model.n_iter_ < max_iter))
    return Probe(
        scaler.mean_, scaler.scale_, model.coef_, model.intercept_, model.classes_, converged
    )


def top_accuracy(ranked: np.ndarray, y) -> tuple[float, float]:
    """(top-1 %, top-5 %) of (N, k) ranked labels against the true labels ``y``."""
    hit = ranked == np.asarray(y)[:, None]
    return float(100 * hit[:, 0].mean()), float(100 * hit.any(1).mean())


def _accuracy(probe: Probe, x, y) -> tuple[float, float, np.ndarray]:
    """(top-1 %, top-5 %, predicted label) of ``probe`` on (x, y)."""
    ranked = probe.rank(x, min(5, len(probe.classes)))
    return (*top_accuracy(ranked, y), ranked[:, 0])


@dataclass
class ProbeResult:
    rows: list[dict]  # one per C: C, val_top1, val_top5, converged, selected
    best_c: float
    test_top1: float
    test_top5: float
    predicted: np.ndarray  # (n_test,) class index


def linear_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    cs: list[float],
    val_fraction: float,
    seed: int,
    max_iter: int,
    tol: float,
) -> ProbeResult:
    """Choose C on a seeded validation split of the training rows, refit on all, score test."""
    fit_rows, val_rows = stratified_split(
        y_train, fraction=val_fraction, seed=seed, what="classify.linear.val_fraction"
    )
    rows = []
    progress = Progress(len(cs) + 1, label="linear probe", unit="fits", log=log)  # + the refit
    for c in sorted(cs):
        probe = fit_probe(x_train[fit_rows], y_train[fit_rows], c, max_iter=max_iter, tol=tol)
        top1, top5, _ = _accuracy(probe, x_train[val_rows], y_train[val_rows])
        rows.append({"C": c, "val_top1": top1, "val_top5": top5, "converged": probe.converged})
        log.info("C=%g: validation top-1 %.2f%%", c, top1)
        progress.update()
    best = max(range(len(rows)), key=lambda i: (rows[i]["val_top1"], -i))
    for i, row in enumerate(rows):
        row["selected"] = i == best
    best_c = rows[best]["C"]
    probe = fit_probe(x_train, y_train, best_c, max_iter=max_iter, tol=tol)
    progress.update()
    test_top1, test_top5, predicted = _accuracy(probe, x_test, y_test)
    return ProbeResult(rows, best_c, test_top1, test_top5, predicted)
