"""Windowed FBP filters: dival's ``FBPReconstructor`` hyper-parameters on deepinv's ramp.

dival's FBP (ODL's ``fbp_op``) has two hyper-parameters: ``filter_type`` (Ram-Lak,
Shepp-Logan, Cosine, Hamming, Hann) and ``frequency_scaling`` in (0, 1]. ODL's filter at the
normalised frequency ``nu = |f| / f_Nyquist`` in [0, 1] is ``nu * window(nu)`` with the
window of :func:`window` (ODL's ``_fbp_filter`` divided by ``nu``), and 0 above
``frequency_scaling``. Here the window multiplies deepinv's discrete ramp (the one
``Tomography.fbp`` applies: scikit-image's spatially sampled ramp, zero-padded to a power of
two at least twice the detector count), so ``ram-lak`` at scaling 1 is deepinv's FBP bit for
bit, and the others are the same windows as dival's (tests/unit/ct/test_filters.py checks
the windows against ODL's closed forms and the Hann FBP against scikit-image's
``iradon(filter_name="hann")``).
"""

import numpy as np
import torch

WINDOWS = ("ram-lak", "shepp-logan", "cosine", "hamming", "hann")


def window(name: str, nu: np.ndarray, scaling: float = 1.0) -> np.ndarray:
    """ODL's (dival's) FBP window at normalised frequencies ``nu`` in [0, 1]: the filter
    divided by the ramp ``nu``, 0 above ``scaling``."""
    nu = np.asarray(nu, dtype=np.float64)
    if not 0 < scaling <= 1:
        raise ValueError(f"frequency_scaling must be in (0, 1], got {scaling}")
    if name == "ram-lak":
        w = np.ones_like(nu)
    elif name == "shepp-logan":
        w = np.sinc(nu / (2 * scaling))
    elif name == "cosine":
        w = np.cos(nu * np.pi / (2 * scaling))
    elif name == "hamming":
        w = 0.54 + 0.46 * np.cos(nu * np.pi / scaling)
    elif name == "hann":
        w = np.cos(nu * np.pi / (2 * scaling)) ** 2
    else:
        raise ValueError(f"unknown FBP window {name!r}; one of {', '.join(WINDOWS)}")
    return w * (nu <= scaling)


class WindowedRamp(torch.nn.Module):
    """deepinv's ramp filter (``RampFilter``) times :func:`window`, along the detector axis."""

    def __init__(self, name: str, scaling: float, *, dtype: torch.dtype = torch.float32):
        super().__init__()
        from deepinv.physics.functional.radon import RampFilter

        window(name, np.zeros(1), scaling)  # checks the name and the scaling
        self.name, self.scaling = name, float(scaling)
        self.ramp = RampFilter(dtype=dtype)
        self.ramp.create_filter = self._create_filter

    def _create_filter(self, f: torch.Tensor) -> torch.Tensor:
        # f: the rfft of the padded spatial ramp, at frequencies k / size, k = 0..size/2
        nu = np.arange(f.shape[-1], dtype=np.float64) / (f.shape[-1] - 1)
        w = torch.from_numpy(window(self.name, nu, self.scaling)).to(f.device, f.real.dtype)
        return f * w

    def forward(self, x: torch.Tensor, dim: int = -2) -> torch.Tensor:
        return self.ramp(x, dim=dim)


def windowed_fbp(y: torch.Tensor, physics, *, window_name: str, scaling: float) -> torch.Tensor:
    """``physics.fbp(y)`` with the windowed ramp in place of deepinv's ramp."""
    ramp = physics.iradon.filter
    physics.iradon.filter = WindowedRamp(window_name, scaling, dtype=physics.dtype)
    try:
        return physics.fbp(y)
    finally:
        physics.iradon.filter = ramp
