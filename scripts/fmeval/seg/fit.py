"""The final foreground probe: the fit on all selected patches at the CV's best C, as arrays.

Same model as the cross-validation (:mod:`fmeval.seg.cv`); saved as plain arrays in an
``.npz`` that loads with pickle off.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import expit

from fmeval.io.atomic import atomic_path
from fmeval.io.tables import json_safe
from fmeval.learn.logistic import fit_all
from fmeval.runtime import pick_device
from fmeval.seg.folds import memory_budget
from fmeval.seg.probe import ProbeData, check_classes, load_probe_data, standardised_design

log = logging.getLogger(__name__)


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
    check_classes(data)
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
