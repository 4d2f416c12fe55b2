"""L2 logistic regression on standardised features, solved for many CV folds at once.

The model is exactly scikit-learn's ``make_pipeline(StandardScaler(), LogisticRegression(C))``
(lbfgs, L2, unpenalised intercept): for each fold, minimise

    C * sum_i logloss(y_i, w . (x_i - mu_f) / sd_f + b) + |w|^2 / 2

over the fold's training rows, with the fold's own mean ``mu_f`` and population sd ``sd_f``.
Only the solver differs. The features are standardised once (on all rows); a fold's
own standardisation is then an exact change of variables that turns its penalty into a
diagonal one, ``sum_j (sd_fj / sd_j)^2 beta_j^2 / 2``, on the shared matrix, so no fold
copies the data. All folds are solved together: one GEMM gives every fold's decision
values, and a Newton step with a Cholesky-factored Hessian (refreshed only when progress
stalls) converges in a handful of passes. The C path is warm-started: the folds of each C
start from the all-rows solution at that C, which starts from the previous C's.
Runs on CUDA when asked and present (same float64 objective).
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch

log = logging.getLogger(__name__)

EPS = float(np.finfo(np.float64).eps)


@dataclass
class Standardised:
    """Rows standardised once: ``z = (x - mean) / scale`` as float64, plus an intercept column."""

    z1: torch.Tensor  # (N, D + 1): standardised features and a column of ones
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,), population sd with near-constant features set to 1


def standardise(x: np.ndarray, *, device: torch.device) -> Standardised:
    """Standardise like ``StandardScaler`` (population sd, near-constant features kept as is)."""
    x64 = torch.as_tensor(np.asarray(x), device=device).to(torch.float64)
    mean = x64.mean(0)
    var = ((x64 - mean) ** 2).mean(0)
    scale = torch.sqrt(var)
    scale = torch.where(scale < 10 * EPS, torch.ones_like(scale), scale)
    z = (x64 - mean) / scale
    z1 = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype, device=device)], 1)
    return Standardised(z1, mean.cpu().numpy(), scale.cpu().numpy())


def fold_penalty(z1: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(F, D + 1) diagonal penalty weights of each fold: its own sd squared (0 for the intercept).

    ``mask`` is (N, F), 1.0 where a row is in the fold's training set.
    """
    z = z1[:, :-1]
    n = mask.sum(0)  # (F,)
    mean = (z.T @ mask) / n  # (D, F)
    var = ((z * z).T @ mask) / n - mean**2
    sd = torch.sqrt(torch.clamp(var, min=0.0))
    # StandardScaler sets the scale of near-constant features to 1 in the raw units
    sd = torch.where(sd < 10 * EPS, torch.ones_like(sd), sd)
    lam = (sd**2).T  # (F, D)
    return torch.cat([lam, torch.zeros(lam.shape[0], 1, dtype=lam.dtype, device=lam.device)], 1)


def _loss(
    r: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, theta, lam, c: float
) -> torch.Tensor:
    """Per-fold objective from decision values ``r`` (N, F)."""
    data = (torch.nn.functional.softplus(r) - y[:, None] * r) * mask
    return c * data.sum(0) + 0.5 * (lam * theta * theta).sum(1)


def _hessian(z1, mask, r, lam, c: float) -> torch.Tensor:
    """(F, P, P) exact Hessian of each fold's objective at decision values ``r`` (N, F)."""
    p = torch.sigmoid(r)
    w = p * (1 - p) * mask  # (N, F)
    h = torch.stack([(z1 * w[:, f : f + 1]).T @ z1 for f in range(w.shape[1])])
    return c * h + torch.diag_embed(lam)


def _shared_hessian(z1, mask, r0, lam, c: float) -> torch.Tensor:
    """Each fold's Hessian at one shared point ``r0`` (N,): all rows minus the rows it leaves out.

    One (N, P, P) product plus one small product per fold, instead of F full ones.
    """
    p = torch.sigmoid(r0)
    w = p * (1 - p)
    union = mask.amax(1) > 0
    zu, wu = z1[union], w[union]
    h_all = (zu * wu[:, None]).T @ zu
    out = []
    for f in range(mask.shape[1]):
        left_out = union & (mask[:, f] == 0)
        zl, wl = z1[left_out], w[left_out]
        out.append(h_all - (zl * wl[:, None]).T @ zl)
    return c * torch.stack(out) + torch.diag_embed(lam)


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


def solve(
    z1: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    lam: torch.Tensor,
    c: float,
    theta0: torch.Tensor,
    *,
    max_iter: int,
    tol: float,
    refresh: int = 0,
    shared_start: bool = False,
) -> Solution:
    """Minimise every fold's objective at one C from ``theta0`` (F, P).

    Steps are ``H^-1 g`` with a backtracking line search. ``H`` is the exact Hessian at the
    start (from one shared product when every fold starts at the same point,
    ``shared_start``), recomputed every ``refresh`` passes (0: never; 1: plain Newton) and
    whenever a full step fails the line search. A fold
    has converged when its largest gradient entry, divided by ``C * n_rows``, is at most ``tol``
    (the scale of scikit-learn's own lbfgs criterion).
    """
    theta = theta0.clone()
    n_folds = theta.shape[0]
    n = mask.sum(0)
    r = z1 @ theta.T
    f_val = _loss(r, y, mask, theta, lam, c)
    chol = None
    n_iter = np.zeros(n_folds, dtype=int)
    active = torch.ones(n_folds, dtype=torch.bool, device=z1.device)
    n_refresh = 0
    for it in range(max_iter):
        p = torch.sigmoid(r)
        grad = c * (z1.T @ ((p - y[:, None]) * mask)).T + lam * theta  # (F, P)
        gmax = grad.abs().amax(1) / (c * n)
        active = gmax > tol
        if not bool(active.any()):
            break
        if chol is None or (refresh and it % refresh == 0):
            if it == 0 and shared_start:
                chol = _cholesky(_shared_hessian(z1, mask, r[:, 0], lam, c))
            else:
                chol = _cholesky(_hessian(z1, mask, r, lam, c))
                n_refresh += 1
        step = torch.cholesky_solve(grad.unsqueeze(-1), chol).squeeze(-1)
        step = step * active[:, None]
        q = z1 @ step.T  # decision-value change for a unit step
        t = torch.ones(n_folds, dtype=z1.dtype, device=z1.device)
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
        n_iter += active.cpu().numpy()
    log.debug(
        "solved %d fold(s) at C=%g: %d pass(es), %d Hessian refresh(es)", n_folds, c, it, n_refresh
    )
    return Solution(theta, n_iter, ~active.cpu().numpy())


def cv_path(
    z1: torch.Tensor,
    y: np.ndarray,
    groups: np.ndarray,
    folds: list[int],
    cs: list[float],
    *,
    max_iter: int,
    tol: float = 1e-8,
    fold_batch: int = 32,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Leave-one-group-out along the C path (ascending): each held-out group's decision values.

    Fold ``j`` trains on the rows whose ``groups`` differs from ``folds[j]``. Folds are solved
    ``fold_batch`` at a time, to bound memory. Returns ``held_out`` (per fold, a
    (len(cs), n_rows_of_group) array), ``n_iter`` and ``converged`` (both (len(cs), F)).
    """
    dev = z1.device
    yt = torch.as_tensor(y, dtype=torch.float64, device=dev)
    groups = np.asarray(groups)
    union = torch.as_tensor(np.ones((len(y), 1)), dtype=torch.float64, device=dev)
    lam_all = fold_penalty(z1, union)
    theta_all = torch.zeros(1, z1.shape[1], dtype=torch.float64, device=dev)
    held_out = [np.zeros((len(cs), int((groups == g).sum()))) for g in folds]
    n_iter = np.zeros((len(cs), len(folds)), dtype=int)
    converged = np.zeros((len(cs), len(folds)), dtype=bool)
    batches = [
        list(range(i, min(i + fold_batch, len(folds)))) for i in range(0, len(folds), fold_batch)
    ]
    masks = {}
    for k in np.argsort(cs):
        c = float(cs[k])
        theta_all = solve(
            z1, yt, union, lam_all, c, theta_all, max_iter=max_iter, tol=tol, refresh=1
        ).theta
        for batch in batches:
            if tuple(batch) not in masks:
                train = groups[:, None] != np.asarray([folds[j] for j in batch])[None, :]
                mask = torch.as_tensor(train, dtype=torch.float64, device=dev)
                masks[tuple(batch)] = (mask, fold_penalty(z1, mask))
            mask, lam = masks[tuple(batch)]
            start = theta_all.expand(len(batch), -1).clone()
            sol = solve(z1, yt, mask, lam, c, start, max_iter=max_iter, tol=tol, shared_start=True)
            for i, j in enumerate(batch):
                rows = torch.as_tensor(np.flatnonzero(groups == folds[j]), device=dev)
                held_out[j][k] = (z1[rows] @ sol.theta[i]).cpu().numpy()
            n_iter[k, batch], converged[k, batch] = sol.n_iter, sol.converged
        log.info("C=%g: %d fold(s), Newton passes %s", c, len(folds), n_iter[k].tolist())
    return held_out, n_iter, converged


def fit_full(
    z1: torch.Tensor, y: np.ndarray, c: float, *, max_iter: int, tol: float = 1e-8
) -> tuple[np.ndarray, float, bool]:
    """Coefficients and intercept (in the standardised units of ``z1``) on all rows at one C."""
    dev = z1.device
    yt = torch.as_tensor(y, dtype=torch.float64, device=dev)
    mask = torch.ones(len(y), 1, dtype=torch.float64, device=dev)
    lam = fold_penalty(z1, mask)
    theta0 = torch.zeros(1, z1.shape[1], dtype=torch.float64, device=dev)
    sol = solve(z1, yt, mask, lam, c, theta0, max_iter=max_iter, tol=tol, refresh=1)
    theta = sol.theta[0].cpu().numpy()
    return theta[:-1], float(theta[-1]), bool(sol.converged[0])
