"""deepinv's TV denoiser (the prox of TV in TV-regularised PGD), same iterations, in place.

deepinv 0.5's :class:`deepinv.models.TVDenoiser` (Condat's over-relaxed Chambolle-Pock on
``1/2 ||x - y||^2 + gamma ||Dx||_{1,2}``) spends each of its ``n_it_max`` iterations on
~35 small tensor operations, each allocating its result (and ``zeros`` for the finite
differences). On a 2-core CPU these 128x128 operations cost more in allocation and in
OpenMP start-up than in arithmetic, and far more when other processes load the machine
(a 2-thread region waits for both threads to be scheduled).

:class:`InPlaceTVDenoiser` runs the same iterations, in deepinv's order of floating-point
operations but for ``|v|`` (``sqrt(vx^2 + vy^2)``, not ``vector_norm``), so its iterates
equal deepinv's to float rounding (tests/unit/ct/test_tvdenoiser.py compares them), on
buffers allocated once per call, in one CPU thread (0.7 ms an iteration for 8 images,
deepinv's 1.4 ms in one thread and 5-20 ms in two on a loaded 2-core machine):

- the same warm restart (``x2``, ``u2`` kept between calls; ``restart`` on the first
  call or a new shape), the same ``sigma = 1 / tau / 2**(ndim - 1)`` and per-image
  threshold ``ths``, and the same stopping rule: ``n_it_max`` iterations, or earlier
  once ``||x_prev - x2|| / ||x2 + 1e-12||`` (over the whole batch) falls below ``crit``
  from the third iteration on;
- the dual variable is kept as two planes (``(2, B, C, H, W)``), and exposed as
  deepinv's ``(B, C, H, W, 2)`` through a view.

Anything else (GPU tensors, 3D volumes, autograd) goes to deepinv's own ``forward``.
"""

import contextlib
from collections.abc import Iterator

import torch
from deepinv.models import TVDenoiser


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run torch's CPU ops in ``threads`` threads for the duration."""
    before = torch.get_num_threads()
    if before == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class InPlaceTVDenoiser(TVDenoiser):
    """:class:`deepinv.models.TVDenoiser` with its iterations in place, in ``threads`` threads."""

    def __init__(self, *args, threads: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads = threads
        self.iterations = 0  # of the last call done here (not by deepinv's forward)

    def forward(self, y: torch.Tensor, ths: float | torch.Tensor = None, **kwargs) -> torch.Tensor:
        if (
            y.device.type != "cpu"  # GPU kernels are launch-bound; deepinv's own there
            or y.ndim != 4
            or min(y.shape[-2:]) < 3
            or y.is_complex()
            or (torch.is_grad_enabled() and y.requires_grad)
        ):
            return super().forward(y, ths, **kwargs)
        if ths is None:
            ths = self.ths
        if ths is None:
            raise RuntimeError("TV denoiser: no regularization parameter (ths)")
        with torch_threads(self.threads):
            x2, u, self.iterations = self._iterate(y, ths)
        self.x2 = x2
        self.u2 = u.permute(1, 2, 3, 4, 0)  # deepinv's (B, C, H, W, 2) layout, as a view
        return x2

    def _start(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x2, u) as deepinv starts them: y and zeros, or copies of the last call's."""
        restart = self.restart or self.x2 is None or self.u2 is None or self.x2.shape != y.shape
        u = torch.empty((2, *y.shape), device=y.device, dtype=y.dtype)
        if restart:
            self.restart = False
            u.zero_()
            return y.clone(), u
        u.copy_(self.u2.permute(4, 0, 1, 2, 3))
        return self.x2.clone(), u

    def _iterate(self, y: torch.Tensor, ths) -> tuple[torch.Tensor, torch.Tensor, int]:
        x2, u = self._start(y)
        tau, rho = self.tau, self.rho
        sigma = 1 / tau / 2 ** (y.ndim - 1)
        lam = self._handle_sigma(
            ths, batch_size=y.size(0), ndim=y.ndim + 1, device=y.device, dtype=y.dtype
        ).reshape(-1, 1, 1, 1)
        # |v| at most lam / 2 gives the factor max(|v| / lam, 1) = 1 either way; sqrt is
        # slow on zeros (flat regions), so |v|^2 is raised to (lam / 2)^2 first (exact).
        floor = (lam / 2) ** 2
        ty = tau * y
        x, d, w, spare, norm = (torch.empty_like(y) for _ in range(5))
        g = torch.empty_like(u)
        ux, uy, gx, gy = u[0], u[1], g[0], g[1]
        # views, made once: rows (dim H) and columns (dim W), interior and borders
        d_mid, ux_up, ux_mid = d[:, :, 1:-1], ux[:, :, :-2], ux[:, :, 1:-1]
        d_first, ux_first = d[:, :, 0], ux[:, :, 0]
        d_last, ux_before_last = d[:, :, -1], ux[:, :, -2]
        d_left, d_right, uy_left = d[..., :-1], d[..., 1:], uy[..., :-1]
        w_down, w_up, w_right, w_left = w[:, :, 1:], w[:, :, :-1], w[..., 1:], w[..., :-1]
        gx_in, gx_last, gy_in, gy_last = gx[:, :, :-1], gx[:, :, -1], gy[..., :-1], gy[..., -1]
        for it in range(self.n_it_max):
            # d = nabla_adjoint(u), deepinv's ((0 - ux[i]) + ux[i-1]) - uy[j] + uy[j-1]
            torch.sub(ux_up, ux_mid, out=d_mid)
            torch.neg(ux_first, out=d_first)
            d_last.copy_(ux_before_last)
            d_left.sub_(uy_left)
            d_right.add_(uy_left)
            # x = prox_tau_fx(x2 - tau d, y) = ((x2 - tau d) + tau y) / (1 + tau)
            d.mul_(tau)
            torch.sub(x2, d, out=x)
            x.add_(ty).div_(1 + tau)
            # v = u2 + sigma nabla(2 x - x2), as u2 - sigma nabla(w) with w = x2 - 2 x (exact)
            torch.sub(x2, x, alpha=2, out=w)
            torch.sub(w_down, w_up, out=gx_in)
            torch.sub(w_right, w_left, out=gy_in)
            gx_last.zero_()
            gy_last.zero_()
            g.mul_(-sigma).add_(u)
            # u = prox_sigma_g_conj(v, lam) = v / max(|v| / lam, 1)
            torch.mul(gx, gx, out=norm).addcmul_(gy, gy)
            torch.maximum(norm, floor, out=norm).sqrt_().div_(lam).clamp_(min=1.0)
            g.div_(norm)
            # over-relaxation: x2 += rho (x - x2), u2 += rho (u - u2)
            x.sub_(x2).mul_(rho)
            torch.add(x2, x, out=spare)
            g.sub_(u).mul_(rho)
            u.add_(g)
            if it > 1:  # deepinv's stopping rule (it computes rel_err from the first iteration)
                torch.sub(x2, spare, out=x)
                rel_err = torch.linalg.vector_norm(x) / torch.linalg.vector_norm(
                    torch.add(spare, 1e-12, out=norm)
                )
            x2, spare = spare, x2
            if it > 1 and rel_err < self.crit:
                break
        return x2, u, it + 1
