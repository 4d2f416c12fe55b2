"""The baselines' hyper-parameters, chosen per (views, noise) cell on validation phantoms.

As dival's reference reconstructors are tuned (on the validation part of the dataset, per
setting), rule ``tune_baseline`` picks, for one cell:

- ``tv``: the TV weight ``lam`` maximising the mean PSNR over the first ``n_validation``
  phantoms of dival's ellipses *validation* part (never the test phantoms; their ids are
  recorded). The search: a log-spaced grid of ``lam_grid`` values over ``lam_range``, then
  ``lam_refine`` golden-section evaluations (in log lam) between the best grid value's two
  neighbours; the answer is the best of all the evaluations. Each evaluation runs the
  pipeline's own TV (same ``n_iter``, ``tol``, ``prox_iter``).
- ``fbp``: dival's ``FBPReconstructor`` hyper-parameters, the window (Ram-Lak, Shepp-Logan,
  Cosine, Hamming, Hann) and the ``frequency_scaling`` cut-off, by the grid search dival's
  ``optimize_hyper_params`` runs for it (every window x every scaling), on the same PSNR.
  (dival's own function needs its Reconstructor/DataPairs wrappers and hyperopt for this
  plain grid; the grid is the same.)

The validation sinograms are simulated as the test ones (stock deepinv A, Poisson-Gaussian
noise), with noise seeds of their own. The record (JSON) has the chosen values, every
evaluation (value, mean PSNR, seconds), the validation ids and the time spent; rule
``reconstruct_sinograms`` reads it (:func:`fmeval.ct.tuned.apply_tuning`).
"""

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from fmeval.ct.metrics import psnr
from fmeval.ct.phantoms import load_phantoms, phantom_ids
from fmeval.ct.sweep import NoiseLevel
from fmeval.io.atomic import atomic_path
from fmeval.specs import TUNE  # a config value that leaves an option to this module

log = logging.getLogger(__name__)

GOLDEN = (math.sqrt(5) - 1) / 2

Score = Callable[[Mapping], float]  # options -> mean validation PSNR


def search_lam(
    score: Callable[[float], float], *, lam_range: Sequence[float], grid: int, refine: int
) -> tuple[float, list[tuple[float, float]]]:
    """The best ``lam`` and every (lam, score) evaluated: a log grid, then golden-section
    steps (in log10 lam) between the best grid value's neighbours."""
    lo, hi = math.log10(lam_range[0]), math.log10(lam_range[1])
    trace: dict[float, float] = {}

    def evaluate(log_lam: float) -> float:
        lam = float(10**log_lam)
        if lam not in trace:
            trace[lam] = float(score(lam))
        return trace[lam]

    points = list(np.linspace(lo, hi, grid)) if grid > 1 else [lo]
    values = [evaluate(p) for p in points]
    best = int(np.argmax(values))
    a, b = points[max(best - 1, 0)], points[min(best + 1, len(points) - 1)]
    left = refine if b > a else 0  # evaluations left
    if left:
        c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
        fc, left = evaluate(c), left - 1
        fd, left = (evaluate(d), left - 1) if left else (-math.inf, 0)
        while left:
            if fc >= fd:  # the maximum lies in [a, d]
                b, d, fd = d, c, fc
                c = b - GOLDEN * (b - a)
                fc = evaluate(c)
            else:  # in [c, b]
                a, c, fc = c, d, fd
                d = a + GOLDEN * (b - a)
                fd = evaluate(d)
            left -= 1
    ranked = sorted(trace.items())
    chosen = max(ranked, key=lambda item: item[1])[0]
    return chosen, ranked


def search_filter(
    score: Callable[[str, float], float], *, windows: Sequence[str], scalings: Sequence[float]
) -> tuple[tuple[str, float], list[tuple[str, float, float]]]:
    """dival's grid for its FBP: every window x every frequency scaling; the best and all."""
    trace = [(w, float(s), float(score(w, float(s)))) for w in windows for s in scalings]
    best = max(trace, key=lambda item: item[2])
    return (best[0], best[1]), trace


def mean_psnr(gt: np.ndarray, images: np.ndarray) -> float:
    return float(np.mean([psnr(g, x) for g, x in zip(gt.astype(np.float64), images)]))


def _search_tv(score: Score, options: Mapping, search: Mapping) -> tuple[dict, list[dict]]:
    lam, trace = search_lam(
        lambda lam: score({"lam": lam}),
        lam_range=search["lam_range"],
        grid=int(search["lam_grid"]),
        refine=int(search["lam_refine"]),
    )
    return {"lam": lam}, [{"lam": v, "psnr": p} for v, p in trace]


def _search_fbp(score: Score, options: Mapping, search: Mapping) -> tuple[dict, list[dict]]:
    windows = search["windows"] if options.get("window") == TUNE else [options["window"]]
    scalings = (
        search["frequency_scalings"]
        if options.get("frequency_scaling") == TUNE
        else [options["frequency_scaling"]]
    )
    (window, scaling), trace = search_filter(
        lambda w, s: score({"window": w, "frequency_scaling": s}),
        windows=windows,
        scalings=scalings,
    )
    chosen = {"window": window, "frequency_scaling": scaling}
    return chosen, [{"window": w, "frequency_scaling": s, "psnr": p} for w, s, p in trace]


# Each tunable method's search (its record's tunable options; tests/unit/ct/test_methods.py):
# (score, options, ct.tune) -> (chosen values, every evaluation).
SEARCHES: dict[str, Callable[[Score, Mapping, Mapping], tuple[dict, list[dict]]]] = {
    "tv": _search_tv,
    "fbp": _search_fbp,
}


def run_tuning(
    *,
    method: str,
    phantoms: str,
    operator: str,
    matrix: str,
    views: int,
    noise: NoiseLevel,
    options: Mapping,
    search: Mapping,
    seed: int,
    batch_size: int,
    tuning: str,
) -> dict:
    """Rule ``tune_baseline``: choose ``method``'s tuned options for one (views, noise) cell
    on the validation phantoms and write the record (JSON) to ``tuning``."""
    from fmeval.ct.reconstruction import make_solver, reconstruct
    from fmeval.ct.tomography import (
        build_operator,
        read_operator,
        simulate_sinograms,
        stock_operator,
    )

    start = time.perf_counter()
    gt = load_phantoms(phantoms)[: int(search["n_validation"])]
    norm = read_operator(operator)["operator_norm"]
    sinograms = simulate_sinograms(
        gt,
        stock_operator(views, operator_norm=norm),
        level=noise,
        views=views,
        seed=seed,
        batch_size=batch_size,
        part="validation",
    )
    physics = build_operator(views, operator_norm=norm, matrix=matrix)
    simulate_s = time.perf_counter() - start

    def score(opts: Mapping) -> float:
        solver = make_solver(method, options={**options, **opts})
        return mean_psnr(gt, reconstruct(sinograms, physics, solver, batch_size=batch_size))

    start = time.perf_counter()
    if method not in SEARCHES:
        raise ValueError(f"method {method!r} has nothing to tune")
    chosen, evaluations = SEARCHES[method](score, options, search)
    search_s = time.perf_counter() - start
    best = max(e["psnr"] for e in evaluations)
    record = {
        "method": method,
        "views": views,
        "noise": noise.name,
        "chosen": chosen,
        "validation_psnr": best,
        "evaluations": evaluations,
        "n_evaluations": len(evaluations),
        "validation_ids": phantom_ids(len(gt), part="validation"),
        "search": dict(search),
        "fixed": {k: v for k, v in options.items() if v != TUNE},
        "seconds": simulate_s + search_s,
        "simulate_s": simulate_s,
        "search_s": search_s,
    }
    with atomic_path(tuning, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    log.info(
        "%s, %d views, noise %s: chose %s (validation PSNR %.2f dB) in %d evaluations on %d "
        "validation phantoms, %.1f s",
        method, views, noise.name, chosen, best, len(evaluations), len(gt), search_s,
    )  # fmt: skip
    return record
