"""fmeval's in-place TV denoiser iterates as deepinv 0.5's TVDenoiser, to float rounding."""

import deepinv as dinv
import pytest
import torch

from fmeval.ct.phantoms import generate_phantoms
from fmeval.ct.tvdenoiser import InPlaceTVDenoiser


@pytest.fixture(scope="module")
def noisy() -> list[torch.Tensor]:
    """Three noisy versions of 4 phantoms (a PGD's successive prox inputs, roughly)."""
    x = torch.from_numpy(generate_phantoms(4)).unsqueeze(1)
    gen = torch.Generator().manual_seed(0)
    return [x + 0.05 * torch.randn(x.shape, generator=gen) for _ in range(3)]


class CountedTVDenoiser(dinv.models.TVDenoiser):
    """deepinv's denoiser, counting its iterations (one prox_tau_fx each)."""

    def forward(self, *args, **kwargs):
        self.iterations = 0
        return super().forward(*args, **kwargs)

    def prox_tau_fx(self, x, y):
        self.iterations += 1
        return super().prox_tau_fx(x, y)


def run(denoiser, inputs, thresholds):
    """Call ``denoiser`` on each input in turn (warm restarts), as TVPrior does in PGD."""
    out = []
    with torch.inference_mode():
        for y, ths in zip(inputs, thresholds):
            out.append((denoiser(y, ths=ths), denoiser.u2.clone(), denoiser.iterations))
    return out


PER_IMAGE = torch.tensor([0.005, 0.01, 0.02, 0.04])


@pytest.mark.parametrize(
    ("crit", "n_it_max", "early"),
    [(1e-8, 20, False), (1e-4, 500, True)],  # TVPrior's default crit; one that stops early
)
def test_iterates_equal_deepinvs(noisy, crit, n_it_max, early):
    thresholds = [0.01, PER_IMAGE, 0.01]
    stock = run(CountedTVDenoiser(crit=crit, n_it_max=n_it_max), noisy, thresholds)
    ours = run(InPlaceTVDenoiser(crit=crit, n_it_max=n_it_max), noisy, thresholds)
    for (x, u, n), (x_ref, u_ref, n_ref) in zip(ours, stock):
        assert n == n_ref and (n < n_it_max) == early, (n, n_ref)
        torch.testing.assert_close(x, x_ref, rtol=0, atol=1e-5)  # ~1e-6 measured
        assert u.shape == u_ref.shape  # deepinv's (B, C, H, W, 2) dual variable
        torch.testing.assert_close(u, u_ref, rtol=0, atol=1e-4)  # |u| ~ 0.1; ~3e-5 measured


def test_a_new_batch_shape_restarts_as_deepinvs(noisy):
    inputs = [noisy[0], noisy[1][:2], noisy[2][:2]]
    stock = run(CountedTVDenoiser(n_it_max=10), inputs, [0.01] * 3)
    ours = run(InPlaceTVDenoiser(n_it_max=10), inputs, [0.01] * 3)
    for (x, *_), (x_ref, *_) in zip(ours, stock):
        torch.testing.assert_close(x, x_ref, rtol=0, atol=1e-5)


def test_runs_in_one_thread_and_restores_the_count(noisy, monkeypatch):
    seen = []
    monkeypatch.setattr(
        InPlaceTVDenoiser,
        "_start",
        lambda self, y, f=InPlaceTVDenoiser._start: (
            seen.append(torch.get_num_threads()) or f(self, y)
        ),
    )
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run(InPlaceTVDenoiser(n_it_max=3), noisy[:1], [0.01])
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_volumes_and_autograd_go_to_deepinvs_forward():
    y = torch.rand(1, 1, 6, 8, 8)
    ours = InPlaceTVDenoiser(n_it_max=5)(y, ths=0.1)
    torch.testing.assert_close(ours, dinv.models.TVDenoiser(n_it_max=5)(y, ths=0.1))
    image = torch.rand(1, 1, 16, 16, requires_grad=True)
    InPlaceTVDenoiser(n_it_max=5)(image, ths=0.1).sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
