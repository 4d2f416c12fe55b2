"""The rows of a logistic regression, standardised like ``StandardScaler``, without copies.

A :class:`Design` keeps the rows as given (float32 features are not copied) and standardises
them in float64 one block of rows at a time (or once, when that fits the budget); the
products the solver needs (decision values, gradients, Hessians) run block by block on
scratch tensors allocated once. Runs on CUDA when asked and present (same float64 values).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

EPS = float(np.finfo(np.float64).eps)
#: Rows per block. Each block is written into scratch tensors that a design allocates once and
#: reuses, so a pass over the rows costs the same per row at any N (issue 13: a fresh float64
#: copy of each block, 50 MB at D = 768, allocated, page-faulted and freed on every product,
#: made each pass several times dearer per row than on a cached matrix). Smaller blocks fit
#: the CPU cache better but each block is a thread barrier, slow on a busy machine.
BLOCK_ROWS = 8192
#: Hessian blocks are summed in float32 over this many rows, then added in float64.
FLUSH_ROWS = 32768


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
