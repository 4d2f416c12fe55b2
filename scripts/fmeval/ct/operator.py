"""A deepinv ``Tomography`` whose A and A^T are products with the Radon matrix, and its norm.

:func:`fmeval.ct.radon.radon_matrix` writes deepinv 0.5's parallel-beam Radon transform
(``Tomography(img_width, angles=views)``, ``circle=False``) down as a CSR matrix, rows
view-major, columns the image's pixels.

:class:`SparseTomography` is a ``deepinv.physics.Tomography`` whose ``A`` and ``A_adjoint``
are CSR products with that matrix and its transpose, divided by the stored operator norm
as ``normalize=True`` does; deepinv's ``fbp`` (ramp filter, then ``A_adjoint``, scaled),
``A_dagger``, ``prox_l2`` and everything built on them (RAM, PGD) run unchanged on top.
deepinv's ``A_adjoint`` is the autograd adjoint of its ``A`` (``adjoint_via_backprop``), so
the transposed matrix is the same map; tests/unit/ct/test_operator.py checks A, A^T, FBP
and the norm against stock deepinv.
"""

import deepinv as dinv
import torch
from deepinv.physics.functional import RampFilter

from fmeval.ct.radon import RadonMatrix, csr_tensor, view_angles


class _Angles(torch.nn.Module):
    """What deepinv's ``Tomography.fbp`` reads of ``radon`` / ``iradon``: angles, ramp filter."""

    def __init__(self, angles: torch.Tensor, *, dtype: torch.dtype, ramp: bool = False):
        super().__init__()
        self.register_buffer("theta", angles, persistent=False)
        if ramp:
            self.filter = RampFilter(dtype=dtype)


class SparseTomography(dinv.physics.Tomography):
    """``Tomography(img_width, angles=views, normalize=True)`` with A and A^T as CSR products.

    deepinv's ``__init__`` (its grids and power iteration) is skipped; the attributes
    its ``fbp`` and ``A_dagger`` read are set here, so those run as deepinv wrote them:
    ``fbp(y) = A_adjoint(ramp(y)) * pi / (2 views) * norm**2``.
    """

    def __init__(
        self,
        matrix: RadonMatrix,
        *,
        operator_norm: float,
        device: str | torch.device = "cpu",
        noise_model: torch.nn.Module | None = None,
    ):
        dinv.physics.LinearPhysics.__init__(self, noise_model=noise_model, device=device)
        dtype = torch.float32
        angles = view_angles(matrix.views)
        self.register_buffer("angles", angles)
        self.img_width, self.views = matrix.img_width, matrix.views
        self.detectors = matrix.detectors
        self.dtype = dtype
        self.fan_beam = False
        self.adjoint_via_backprop = True  # deepinv's fbp branch that calls A_adjoint
        self.fbp_interpolate_boundary = False
        self.radon = _Angles(angles, dtype=dtype)
        self.iradon = _Angles(angles, dtype=dtype, ramp=True)
        self.register_buffer("operator_norm", torch.tensor(operator_norm, dtype=dtype))
        self.normalize = True
        self.register_buffer("matrix", matrix.csr(), persistent=False)
        crow, col, values = matrix.transposed()
        self.register_buffer(
            "matrix_t", csr_tensor(crow, col, values, matrix.shape[::-1]), persistent=False
        )
        self.to(device)

    def A(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        if x.shape[-2:] != (self.img_width, self.img_width):
            raise ValueError(
                f"Input image size {tuple(x.shape[-2:])} does not match the operator image size "
                f"{(self.img_width, self.img_width)}."
            )
        lead = x.shape[:-2]
        cols = x.reshape(-1, self.img_width**2).T  # (pixels, images)
        out = torch.sparse.mm(self.matrix, cols)  # (views * detectors, images)
        out = out.T.reshape(*lead, self.views, self.detectors).transpose(-1, -2)
        return out / self.operator_norm

    def A_adjoint(self, y: torch.Tensor, **kwargs) -> torch.Tensor:
        lead = y.shape[:-2]
        cols = y.transpose(-1, -2).reshape(-1, self.views * self.detectors).T  # (rows, sinograms)
        out = torch.sparse.mm(self.matrix_t, cols)  # (pixels, sinograms)
        out = out.T.reshape(*lead, self.img_width, self.img_width)
        return out / self.operator_norm if self.normalize else out


def measure_norm(matrix: RadonMatrix) -> float:
    """||A|| as ``Tomography(normalize=True)`` measures it, on the matrix.

    deepinv's power iteration (``compute_norm``, 100 steps at most, tolerance 1e-3) from
    its own start, ``randn`` of a generator seeded 0, on the un-normalised operator.
    """
    physics = SparseTomography(matrix, operator_norm=1.0)
    physics.normalize = False
    w = matrix.img_width
    x0 = torch.randn((1, w, w), generator=torch.Generator("cpu").manual_seed(0))[None]
    with torch.no_grad():
        return float(physics.compute_norm(x0, squared=False, verbose=False))
