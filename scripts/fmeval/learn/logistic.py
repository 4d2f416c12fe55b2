"""L2 logistic regression on standardised features, solved for many CV folds at once.

The model is exactly scikit-learn's ``make_pipeline(StandardScaler(), LogisticRegression(C))``
(lbfgs, L2, unpenalised intercept): for each fold, minimise

    C * sum_i logloss(y_i, w . (x_i - mu_f) / sd_f + b) + |w|^2 / 2

over the fold's training rows, with the fold's own mean ``mu_f`` and population sd ``sd_f``.
Only the solver differs. The features are standardised once (on all rows); a fold's
own standardisation is then an exact change of variables that turns its penalty into a
diagonal one, ``sum_j (sd_fj / sd_j)^2 beta_j^2 / 2``, on the shared matrix, so no fold
copies the data. All folds of a chunk are solved together: one GEMM gives every fold's
decision values, and a Newton step with a Cholesky-factored Hessian (refreshed only when
progress stalls) converges in a handful of passes. The C path is warm-started: the folds of
each C start from the all-rows solution at that C, which starts from the previous C's.

Memory: the rows stay as given in a :class:`fmeval.learn.design.Design` (standardised one
block of rows at a time, or once when that fits the budget), and :func:`fold_chunk` sizes
the chunks of folds to a memory budget. Runs on CUDA when asked and present (same float64
objective).
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch

from fmeval.learn.design import EPS, Design, as_design
from fmeval.progress import Progress

log = logging.getLogger(__name__)

REFRESH = 3  # all-rows fits: a fresh Hessian every third pass (each costs ~P passes)


def fold_chunk(n_rows: int, n_params: int, budget_bytes: float) -> int:
    """How many folds fit a working-memory budget: ~12 (N,) float64 arrays and 3 Hessians each."""
    per_fold = 12 * 8 * n_rows + 3 * 8 * n_params**2
    return max(1, int(budget_bytes // per_fold))


def fold_penalty(design, mask: torch.Tensor) -> torch.Tensor:
    """(F, D + 1) diagonal penalty weights of each fold: its own sd squared (0 for the intercept).

    ``mask`` is (N, F), 1.0 where a row is in the fold's training set.
    """
    design = as_design(design)
    d = design.p - 1
    s1 = torch.zeros(d, mask.shape[1], dtype=torch.float64, device=mask.device)
    s2 = torch.zeros_like(s1)
    for s in design.slices():
        z = design.block(s)[:, :d]
        s1.addmm_(z.T, mask[s])
        s2.addmm_(design.squared(z).T, mask[s])
    n = mask.sum(0)  # (F,)
    mean = s1 / n
    var = s2 / n - mean**2
    sd = torch.sqrt(torch.clamp(var, min=0.0))
    # StandardScaler sets the scale of near-constant features to 1 in the raw units
    sd = torch.where(sd < 10 * EPS, torch.ones_like(sd), sd)
    lam = (sd**2).T  # (F, D)
    return torch.cat([lam, torch.zeros(lam.shape[0], 1, dtype=lam.dtype, device=lam.device)], 1)


def _loss(r: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, theta, lam, c: float):
    """Per-fold objective from decision values ``r`` (N, F)."""
    data = torch.nn.functional.softplus(r)  # one (N, F) temporary, updated in place
    data.addcmul_(y[:, None], r, value=-1).mul_(mask)
    return c * data.sum(0) + 0.5 * (lam * theta * theta).sum(1)


def _hessian(design: Design, mask, r, lam, c: float) -> torch.Tensor:
    """(F, P, P) exact Hessian of each fold's objective at decision values ``r`` (N, F)."""
    w = torch.sigmoid(r)
    w.mul_(1 - w).mul_(mask)
    return c * design.gram(w) + torch.diag_embed(lam)


def _cholesky(h: torch.Tensor) -> torch.Tensor:
    chol, info = torch.linalg.cholesky_ex(h)
    if bool((info != 0).any()):  # only from round-off on a near-singular fold
        eye = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        chol = torch.linalg.cholesky(h + 1e-10 * h.diagonal(dim1=-2, dim2=-1).amax() * eye)
    return chol


@dataclass
class Solution:
    theta: torch.Tensor  # (F, D + 1), in the shared standardised units
    n_iter: np.ndarray  # (F,) Newton-type passes
    converged: np.ndarray  # (F,) bool
    n_hessian: int = 0  # Hessians computed (each costs about as much as P / 40 passes)


def solve(
    design,
    y,
    mask,
    lam,
    c: float,
    theta0,
    *,
    max_iter: int,
    tol: float,
    refresh: int = 0,
    start_hessian: torch.Tensor | None = None,
) -> Solution:
    """Minimise every fold's objective at one C from ``theta0`` (F, P).

    Steps are ``H^-1 g`` with a backtracking line search. ``H`` is the exact Hessian at the
    start (``start_hessian`` when given), recomputed every ``refresh`` passes (0: never; 1:
    plain Newton) and whenever a full step fails the line search. A fold has converged when
    its largest gradient entry, divided by ``C * n_rows``, is at most ``tol`` (the scale of
    scikit-learn's own lbfgs criterion).
    """
    design = as_design(design)
    theta = theta0.clone()
    n_folds = theta.shape[0]
    n = mask.sum(0)
    r = design.matmul(theta)
    f_val = _loss(r, y, mask, theta, lam, c)
    chol = None if start_hessian is None else _cholesky(start_hessian)
    n_iter = np.zeros(n_folds, dtype=int)
    active = torch.ones(n_folds, dtype=torch.bool, device=design.device)
    n_refresh = 0
    for it in range(max_iter):
        resid = torch.sigmoid(r).sub_(y[:, None]).mul_(mask)
        grad = c * design.rmatmul(resid) + lam * theta
        del resid
        active = grad.abs().amax(1) / (c * n) > tol
        if not bool(active.any()):
            break
        fresh = it == 0 and start_hessian is not None
        if chol is None or (refresh and it % refresh == 0 and not fresh):
            chol = _cholesky(_hessian(design, mask, r, lam, c))
            n_refresh += 1
        step = torch.cholesky_solve(grad.unsqueeze(-1), chol).squeeze(-1) * active[:, None]
        q = design.matmul(step)  # decision-value change for a unit step
        t = torch.ones(n_folds, dtype=torch.float64, device=design.device)
        slope = (grad * step).sum(1)
        for _ in range(40):
            new_theta = theta - t[:, None] * step
            new_r = r - t * q
            new_f = _loss(new_r, y, mask, new_theta, lam, c)
            ok = (new_f <= f_val - 1e-4 * t * slope) | ~active
            if bool(ok.all()):
                break
            t = torch.where(ok, t, t / 2)
            chol = None  # the quadratic model was poor: refresh the Hessian next pass
        theta, r, f_val = new_theta, new_r, new_f
        del q, new_r
        n_iter += active.cpu().numpy()
    log.debug("solved %d fold(s) at C=%g: %d pass(es), %d Hessian(s)", n_folds, c, it, n_refresh)
    return Solution(theta, n_iter, ~active.cpu().numpy(), n_refresh)


def cv_path(
    design,
    y: np.ndarray,
    groups: np.ndarray,
    folds: list[int],
    cs: list[float],
    *,
    max_iter: int,
    tol: float = 1e-8,
    fold_batch: int = 32,
):
    """Leave-one-group-out along the C path (ascending): each held-out group's decision values.

    Fold ``j`` trains on the rows whose ``groups`` differs from ``folds[j]``. Folds are solved
    ``fold_batch`` at a time, to bound memory (see :func:`fold_chunk`). Returns ``held_out``
    (per fold, a (len(cs), n_rows_of_group) array), ``n_iter`` and ``converged`` (both
    (len(cs), F)).
    """
    design = as_design(design)
    dev = design.device
    yt = torch.as_tensor(y, dtype=torch.float64, device=dev)
    groups = np.asarray(groups)
    gt = torch.as_tensor(groups, device=dev)
    ones = torch.ones(design.n, 1, dtype=torch.float64, device=dev)
    lam_all = fold_penalty(design, ones)
    theta_all = torch.zeros(1, design.p, dtype=torch.float64, device=dev)
    rows = [torch.as_tensor(np.flatnonzero(groups == g), device=dev) for g in folds]
    held_out = [np.zeros((len(cs), len(r))) for r in rows]
    n_iter = np.zeros((len(cs), len(folds)), dtype=int)
    converged = np.zeros((len(cs), len(folds)), dtype=bool)
    batches = [
        list(range(i, min(i + fold_batch, len(folds)))) for i in range(0, len(folds), fold_batch)
    ]
    lams = {}
    h_all = None
    progress = Progress(len(cs) * len(folds), label="CV", unit="fold fits", log=log)
    for k in np.argsort(cs):
        c = float(cs[k])
        # the previous C's Hessian at its solution is this C's at the same point, rescaled
        start = None if h_all is None else (c * h_all + torch.diag(lam_all[0]))[None]
        theta_all = solve(
            design,
            yt,
            ones,
            lam_all,
            c,
            theta_all,
            max_iter=max_iter,
            tol=tol,
            refresh=REFRESH,
            start_hessian=start,
        ).theta
        del start
        r0 = design.matmul(theta_all)[:, 0]
        w0 = torch.sigmoid(r0) * (1 - torch.sigmoid(r0))
        h_all = design.gram(w0[:, None])[0]
        del r0
        for batch in batches:
            held = torch.as_tensor([folds[j] for j in batch], device=dev)
            mask = (gt[:, None] != held[None, :]).to(torch.float64)
            if batch[0] not in lams:  # one (F, P) penalty per chunk, kept along the path
                lams[batch[0]] = fold_penalty(design, mask)
            lam = lams[batch[0]]
            h0 = torch.stack([h_all - design.gram_rows(rows[j], w0[rows[j]]) for j in batch])
            h0 = c * h0 + torch.diag_embed(lam)
            start = theta_all.expand(len(batch), -1).clone()
            sol = solve(
                design, yt, mask, lam, c, start, max_iter=max_iter, tol=tol, start_hessian=h0
            )
            del mask, h0
            for i, j in enumerate(batch):
                held_out[j][k] = design.matmul_rows(rows[j], sol.theta[i]).cpu().numpy()
            n_iter[k, batch], converged[k, batch] = sol.n_iter, sol.converged
            progress.update(len(batch))
        log.info("C=%g: %d fold(s), Newton passes %s", c, len(folds), n_iter[k].tolist())
    return held_out, n_iter, converged


@dataclass
class FullFit:
    coef: np.ndarray  # (D,), in the standardised units
    intercept: float
    converged: bool
    n_iter: int  # Newton-type passes
    n_hessian: int  # Hessians computed


def fit_all(design, y: np.ndarray, c: float, *, max_iter: int, tol: float = 1e-8) -> FullFit:
    """The fit on all rows at one C, with its passes and Hessians."""
    design = as_design(design)
    dev = design.device
    yt = torch.as_tensor(y, dtype=torch.float64, device=dev)
    mask = torch.ones(design.n, 1, dtype=torch.float64, device=dev)
    lam = fold_penalty(design, mask)
    theta0 = torch.zeros(1, design.p, dtype=torch.float64, device=dev)
    sol = solve(design, yt, mask, lam, c, theta0, max_iter=max_iter, tol=tol, refresh=REFRESH)
    theta = sol.theta[0].cpu().numpy()
    return FullFit(
        theta[:-1], float(theta[-1]), bool(sol.converged[0]), int(sol.n_iter[0]), sol.n_hessian
    )


def fit_full(design, y: np.ndarray, c: float, *, max_iter: int, tol: float = 1e-8):
    """Coefficients and intercept (in the standardised units) on all rows at one C, and
    whether the fit converged.
    """
    fit = fit_all(design, y, c, max_iter=max_iter, tol=tol)
    return fit.coef, fit.intercept, fit.converged
