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

Memory: the rows stay as given (float32 features are not copied); a :class:`Design`
standardises them in float64 one block of rows at a time (or once, when that fits the
budget), and :func:`fold_chunk` sizes the chunks of folds to a memory budget.
Runs on CUDA when asked and present (same float64 objective).
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from fmeval.progress import Progress

log = logging.getLogger(__name__)

EPS = float(np.finfo(np.float64).eps)
#: Rows per block. Each block is written into scratch tensors that a design allocates once and
#: reuses, so a pass over the rows costs the same per row at any N (issue 13: a fresh float64
#: copy of each block, 50 MB at D = 768, allocated, page-faulted and freed on every product,
#: made each pass several times dearer per row than on a cached matrix). Smaller blocks fit
#: the CPU cache better but each block is a thread barrier, slow on a busy machine.
BLOCK_ROWS = 8192
#: Hessian blocks are summed in float32 over this many rows, then added in float64.
FLUSH_ROWS = 32768
REFRESH = 3  # all-rows fits: a fresh Hessian every third pass (each costs ~P passes)


class Design:
    """Rows ``x`` (N, D), standardised as ``(x - mean) / scale`` in float64, and a ones column.

    ``x`` is kept as given (a float32 matrix is not copied); blocks of ``block_rows`` rows are
    standardised on the fly, or all at once when ``cache`` is set. Each block is written into
    scratch tensors of ``block_rows`` rows that the design allocates once and reuses.
    """

    def __init__(
        self,
        x,
        *,
        device: torch.device,
        mean=None,
        scale=None,
        cache: bool = False,
        block_rows: int = BLOCK_ROWS,
    ):
        self.x = torch.as_tensor(x, device=device)
        self.n, d = self.x.shape
        self.p = d + 1
        self.device = device
        self.block_rows = max(1, int(block_rows))
        self._scratch: dict[tuple, torch.Tensor] = {}
        self._z1 = None
        f64 = {"dtype": torch.float64, "device": device}
        if mean is None:
            mean, scale = self._moments()
        self.mean = torch.as_tensor(mean, **f64)
        self.scale = torch.as_tensor(scale, **f64)
        self._mu32, self._sd32 = self.mean.to(torch.float32), self.scale.to(torch.float32)
        if cache:
            z1 = torch.empty(self.n, self.p, **f64)
            for s in self.slices():
                z1[s] = self.block(s)
            self._z1 = z1

    @classmethod
    def from_z1(cls, z1: torch.Tensor) -> "Design":
        """A design over rows already standardised, with their ones column (``standardise``)."""
        d = z1.shape[1] - 1
        design = cls(z1[:, :d], device=z1.device, mean=torch.zeros(d), scale=torch.ones(d))
        design._z1 = z1.to(torch.float64)
        return design

    def _moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and population sd like ``StandardScaler`` (two passes, float64)."""
        d = self.p - 1
        total = torch.zeros(d, dtype=torch.float64, device=self.device)
        for s in self.slices():
            total += self._raw64(s)[0].sum(0)
        mean = total / self.n
        ss = torch.zeros_like(total)
        for s in self.slices():
            ss += self._raw64(s)[0].sub_(mean).square_().sum(0)
        scale = torch.sqrt(ss / self.n)
        return mean, torch.where(scale < 10 * EPS, torch.ones_like(scale), scale)

    def slices(self, n: int | None = None) -> Iterator[slice]:
        n = self.n if n is None else n
        for start in range(0, n, self.block_rows):
            yield slice(start, min(start + self.block_rows, n))

    def _buffer(self, dtype: torch.dtype, cols: int, tag: str = "") -> torch.Tensor:
        """A (block_rows, cols) scratch tensor, allocated on first use and then reused."""
        key = (dtype, cols, tag)
        if key not in self._scratch:
            self._scratch[key] = torch.empty(self.block_rows, cols, dtype=dtype, device=self.device)
        return self._scratch[key]

    def _raw64(self, sel: slice | torch.Tensor) -> tuple[torch.Tensor, bool]:
        """Rows ``sel`` (a slice or <= block_rows indices) as float64, and whether they are
        the cached standardised rows (with the ones column) or ``x`` as stored (a scratch block).
        """
        if self._z1 is not None:
            if isinstance(sel, slice):
                return self._z1[sel], True
            out = self._buffer(torch.float64, self.p)[: len(sel)]
            return torch.index_select(self._z1, 0, sel, out=out), True
        if isinstance(sel, slice):
            src = self.x[sel]
        else:
            src = torch.index_select(
                self.x, 0, sel, out=self._buffer(self.x.dtype, self.p - 1, "rows")[: len(sel)]
            )
        return self._buffer(torch.float64, self.p - 1)[: len(src)].copy_(src), False

    def _z32(self, sel: slice | torch.Tensor) -> torch.Tensor:
        """Standardised rows ``sel`` as float32, without the ones column (a scratch block)."""
        d = self.p - 1
        if self._z1 is not None:
            z, _ = self._raw64(sel)
            return self._buffer(torch.float32, d, "z")[: len(z)].copy_(z[:, :d])
        if isinstance(sel, slice):
            src = self.x[sel]
        else:
            src = torch.index_select(
                self.x, 0, sel, out=self._buffer(self.x.dtype, d, "rows")[: len(sel)]
            )
        out = self._buffer(torch.float32, d, "z")[: len(src)].copy_(src)
        return out.sub_(self._mu32).div_(self._sd32)  # centred first: no cancellation

    @property
    def cached(self) -> bool:
        """Whether the standardised float64 matrix is held whole."""
        return self._z1 is not None

    def block(self, s: slice) -> torch.Tensor:
        """Standardised rows ``s`` with the ones column, (B, P) float64 (a scratch block when
        not cached: use it before the next call).
        """
        if self._z1 is not None:
            return self._z1[s]
        z = self._buffer(torch.float64, self.p, "block")[: s.stop - s.start]
        z[:, :-1].copy_(self.x[s]).sub_(self.mean).div_(self.scale)
        z[:, -1] = 1.0
        return z

    def squared(self, z: torch.Tensor) -> torch.Tensor:
        """``z * z`` for a block ``z``, in a scratch tensor."""
        out = self._buffer(z.dtype, z.shape[1], "squared")[: len(z)]
        return torch.mul(z, z, out=out)

    # Without the cached matrix, products fold the standardisation into the small operand:
    # z . w + b = x . (w / sd) + (b - mean . w / sd), so each block is only cast to float64.

    def _fold(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``theta`` (F, P) as weights (cols, F) and bias (F,) acting on the stored rows."""
        if self._z1 is not None:
            return theta.T.contiguous(), torch.zeros_like(theta[:, 0])
        w = theta[:, :-1] / self.scale
        return w.T.contiguous(), theta[:, -1] - w @ self.mean

    def matmul(self, theta: torch.Tensor) -> torch.Tensor:
        """Decision values (N, F) of ``theta`` (F, P)."""
        out = torch.empty(self.n, theta.shape[0], dtype=torch.float64, device=self.device)
        wt, b = self._fold(theta)
        for s in self.slices():
            torch.addmm(b, self._raw64(s)[0], wt, out=out[s])
        return out

    def rmatmul(self, v: torch.Tensor) -> torch.Tensor:
        """``Z1^T v`` for ``v`` (N, F), as (F, P)."""
        cols = self.p if self._z1 is not None else self.p - 1
        acc = torch.zeros(cols, v.shape[1], dtype=torch.float64, device=self.device)
        for s in self.slices():
            acc.addmm_(self._raw64(s)[0].T, v[s])
        if self._z1 is not None:
            return acc.T
        total = v.sum(0)  # (F,)
        z = (acc - self.mean[:, None] * total) / self.scale[:, None]
        return torch.cat([z, total[None]], 0).T

    def _gram(self, blocks, n_f: int) -> torch.Tensor:
        """(F, P, P) sum of ``Z1_b^T diag(w_b[:, f]) Z1_b`` over ``blocks`` of (rows, w_b).

        Each block's product is a float32 GEMM, summed in float32 over ``FLUSH_ROWS`` rows and
        then in float64: these are Hessians, used only to precondition steps (the gradient,
        which decides the optimum, stays float64).
        """
        d = self.p - 1
        h = torch.zeros(n_f, self.p, self.p, dtype=torch.float64, device=self.device)
        acc = torch.zeros(n_f, d, d, dtype=torch.float32, device=self.device)
        sz = torch.zeros(d, n_f, dtype=torch.float64, device=self.device)
        zw_buf = self._buffer(torch.float32, d, "zw")
        rows = 0
        for sel, wb in blocks:
            z = self._z32(sel)
            ws = wb.to(torch.float32)
            zw = zw_buf[: len(z)]
            sz += (z.T @ ws).to(torch.float64)
            h[:, d, d] += wb.sum(0)
            for f in range(n_f):
                acc[f].addmm_(torch.mul(z, ws[:, f : f + 1], out=zw).T, z)
            rows += len(z)
            if rows >= FLUSH_ROWS:
                h[:, :d, :d] += acc
                acc.zero_()
                rows = 0
        h[:, :d, :d] += acc
        h[:, :d, d] = sz.T
        h[:, d, :d] = sz.T
        return h

    def gram(self, w: torch.Tensor) -> torch.Tensor:
        """(F, P, P): ``Z1^T diag(w[:, f]) Z1`` for each column of ``w`` (N, F)."""
        return self._gram(((s, w[s]) for s in self.slices()), w.shape[1])

    def gram_rows(self, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """(P, P): ``Z1[idx]^T diag(w) Z1[idx]``, in blocks of rows (float32 GEMMs, as gram)."""
        return self._gram(((idx[s], w[s, None]) for s in self.slices(len(idx))), 1)[0]

    def matmul_rows(self, idx: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Decision values (len(idx),) of one ``theta`` (P,) on rows ``idx``, in blocks."""
        wt, b = self._fold(theta[None])
        out = torch.empty(len(idx), 1, dtype=torch.float64, device=self.device)
        for s in self.slices(len(idx)):
            torch.addmm(b, self._raw64(idx[s])[0], wt, out=out[s])
        return out[:, 0]


@dataclass
class Standardised:
    """Rows standardised once: ``z = (x - mean) / scale`` as float64, plus an intercept column."""

    z1: torch.Tensor  # (N, D + 1): standardised features and a column of ones
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,), population sd with near-constant features set to 1


def standardise(x: np.ndarray, *, device: torch.device) -> Standardised:
    """Standardise like ``StandardScaler`` (population sd, near-constant features kept as is)."""
    design = Design(np.asarray(x), device=device, cache=True)
    return Standardised(design._z1, design.mean.cpu().numpy(), design.scale.cpu().numpy())


def as_design(z) -> Design:
    return z if isinstance(z, Design) else Design.from_z1(z)


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
