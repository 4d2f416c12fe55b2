"""DINOv2's logistic-regression protocol (``dinov2/eval/log_regression.py``), with scikit-learn.

``eval_log_regression`` without a fine-tuning set: ``torch.manual_seed(seed)``, a
``randperm`` of the training rows; the first ``len // 10`` (``val_fraction``) choose C, the
rest are fitted. Each C of ``10 ** torch.linspace(-6, 5, 45)`` (float32, as DINOv2 builds it)
fits an L2 ``LogisticRegression`` (L-BFGS, ``tol`` 1e-12, ``max_iter`` 1000) on the raw
float64 embeddings (no standardisation); the C of the best validation top-1 (the first, so
the smallest, among ties: torchmetrics' ``MetricTracker``) is refitted on the fitted rows then
the validation rows (in that order), and scored on the test split. DINOv2 runs cuML's
estimator on a GPU and scikit-learn's with the same arguments on a CPU; fmeval runs
scikit-learn's (cuML's own arguments ``output_type``, ``linesearch_max_iter`` have none).
"""

import logging
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from fmeval.classify.linear import ProbeResult, top_accuracy
from fmeval.errors import DataError
from fmeval.progress import Progress

log = logging.getLogger(__name__)

# below this many embedding values a fit runs on one BLAS thread: its products are too small
# to share, and idle BLAS threads spin (measured 10-30x slower on a loaded 2-core machine)
ONE_THREAD_BELOW = 1 << 20


def dinov2_c_grid() -> list[float]:
    """``10 ** torch.linspace(-6, 5, 45)``, each ``.item()``: DINOv2's C values, bit for bit."""
    return [c.item() for c in 10 ** torch.linspace(-6, 5, 45)]


def dinov2_split(n: int, *, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation rows) as DINOv2 draws them: ``randperm`` after ``manual_seed``;
    the first ``int(n * fraction)`` (``n // 10`` at 0.1) validate."""
    generator = torch.Generator().manual_seed(seed)  # torch.manual_seed's default generator
    indices = torch.randperm(n, generator=generator).numpy()
    n_val = n // 10 if fraction == 0.1 else int(n * fraction)
    if n_val < 1 or n_val >= n:
        raise DataError(
            f"classify.linear.val_fraction {fraction} of {n} training images leaves "
            f"{n_val} to choose C; use a larger fraction or more images"
        )
    return indices[n_val:], indices[:n_val]


def _fit(x: np.ndarray, y: np.ndarray, c: float, *, max_iter: int, tol: float):
    model = LogisticRegression(C=c, max_iter=max_iter, tol=tol)
    threads = 1 if x.size < ONE_THREAD_BELOW else torch.get_num_threads()
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="blas"):
        warnings.simplefilter("ignore")  # tol 1e-12 is seldom reached: DINOv2 keeps the fit
        model.fit(x, y)
    return model


def _top(model, x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(top-1 %, top-5 %, (N, min(5, classes)) ranked labels) from ``predict_proba``."""
    probas = model.predict_proba(x)
    n = min(5, probas.shape[1])
    ranked = model.classes_[np.argsort(-probas, axis=1, kind="stable")[:, :n]]
    return (*top_accuracy(ranked, y), ranked)


LogRegResult = ProbeResult  # the same record as fmeval-v1's probe: per-C rows, C, test scores


def dinov2_log_regression(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    cs: list[float] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    max_iter: int = 1000,
    tol: float = 1e-12,
) -> LogRegResult:
    """C chosen on DINOv2's validation split, refitted on all training rows, test scored."""
    x_train = np.asarray(x_train, dtype=np.float64)
    y_train = np.asarray(y_train).astype(np.float64)  # LogRegModule.fit passes float64 labels
    x_test, y_test = np.asarray(x_test, dtype=np.float64), np.asarray(y_test)
    fit_rows, val_rows = dinov2_split(len(x_train), fraction=val_fraction, seed=seed)
    rows, best, best_top1 = [], 0, -1.0
    cs = dinov2_c_grid() if cs is None else list(cs)
    progress = Progress(len(cs) + 1, label="log-regression", unit="fits", log=log)  # + refit
    for i, c in enumerate(cs):
        model = _fit(x_train[fit_rows], y_train[fit_rows], c, max_iter=max_iter, tol=tol)
        top1, top5, _ = _top(model, x_train[val_rows], y_train[val_rows])
        converged = bool(np.all(model.n_iter_ < max_iter))
        rows.append({"C": c, "val_top1": top1, "val_top5": top5, "converged": converged})
        if top1 > best_top1:
            best, best_top1 = i, top1
        log.info("C=%g: validation top-1 %.2f%%", c, top1)
        progress.update()
    for i, row in enumerate(rows):
        row["selected"] = i == best
    best_c = rows[best]["C"]
    order = np.concatenate([fit_rows, val_rows])  # torch.cat((train, finetune))
    model = _fit(x_train[order], y_train[order], best_c, max_iter=max_iter, tol=tol)
    progress.update()
    top1, top5, ranked = _top(model, x_test, y_test.astype(np.float64))
    return LogRegResult(rows, best_c, top1, top5, ranked[:, 0].astype(np.int64))
