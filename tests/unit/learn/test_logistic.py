"""The blocked design (float32 rows, standardised on the fly) equals the cached float64 one."""

import numpy as np
import torch

from fmeval.learn.design import Design
from fmeval.learn.logistic import cv_path, fit_all, fit_full

CPU = torch.device("cpu")


def rows(seed: int = 0, n: int = 3000, d: int = 7):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + rng.normal(0, 20, d)).astype(
        np.float32
    )
    y = (x[:, 0] / x[:, 0].std() + rng.normal(size=n) > 0.3).astype(np.int64)
    return x, y


def test_blocked_products_equal_the_cached_matrix():
    x, _ = rows()
    cached = Design(x, device=CPU, cache=True)
    blocked = Design(x, device=CPU, block_rows=500)
    assert blocked._z1 is None and blocked.x.data_ptr() == torch.from_numpy(x).data_ptr()
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(3, x.shape[1] + 1, dtype=torch.float64, generator=gen)
    v = torch.randn(len(x), 3, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(blocked.matmul(theta), cached.matmul(theta), rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(blocked.rmatmul(v), cached.rmatmul(v), rtol=1e-10, atol=1e-8)
    w = torch.rand(len(x), 2, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(blocked.gram(w), cached.gram(w), rtol=1e-4, atol=1e-3)
    wide = Design(x.astype(np.float64), device=CPU, block_rows=500)  # float64 rows, as given
    torch.testing.assert_close(wide.matmul(theta), cached.matmul(theta), rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(wide.gram(w), cached.gram(w), rtol=1e-4, atol=1e-3)


def test_blocked_row_subsets_equal_the_cached_matrix():
    x, _ = rows(2)
    cached = Design(x, device=CPU, cache=True)
    blocked = Design(x, device=CPU, block_rows=256)
    gen = torch.Generator().manual_seed(1)
    idx = torch.randperm(len(x), generator=gen)[:1000]
    theta = torch.randn(x.shape[1] + 1, dtype=torch.float64, generator=gen)
    w = torch.rand(len(idx), dtype=torch.float64, generator=gen)
    for design in (cached, blocked):
        torch.testing.assert_close(
            design.matmul_rows(idx, theta), cached._z1[idx] @ theta, rtol=1e-10, atol=1e-9
        )
        z = cached._z1[idx]
        torch.testing.assert_close(
            design.gram_rows(idx, w), (z * w[:, None]).T @ z, rtol=1e-4, atol=1e-3
        )


def test_blocks_reuse_scratch_tensors():
    """Each block of a product is written into the same scratch tensors (issue 13: a fresh
    float64 copy per block made every pass over the rows dearer per row than a cached matrix).
    """
    x, _ = rows(3, n=1200)
    blocked = Design(x, device=CPU, block_rows=500)
    slices = list(blocked.slices())
    first, second = (blocked._raw64(s)[0] for s in slices[:2])
    assert first.data_ptr() == second.data_ptr() and len(slices) == 3
    blocked.matmul(torch.zeros(2, x.shape[1] + 1, dtype=torch.float64))
    blocked.gram(torch.ones(len(x), 2, dtype=torch.float64))
    n_scratch = len(blocked._scratch)
    blocked.rmatmul(torch.ones(len(x), 2, dtype=torch.float64))
    blocked.gram_rows(torch.arange(700), torch.ones(700, dtype=torch.float64))
    assert len(blocked._scratch) <= n_scratch + 1  # index selection needs one more


def test_blocked_cv_and_fit_equal_the_cached_ones():
    x, y = rows(1)
    groups = np.repeat(np.arange(6), 500)
    runs = [
        cv_path(Design(x, device=CPU, **kw), y, groups, [0, 2, 5], [0.1, 10.0], max_iter=500)
        for kw in ({"cache": True}, {"block_rows": 700})
    ]
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    fits = [
        fit_full(Design(x, device=CPU, **kw), y, 1.0, max_iter=500)
        for kw in ({"cache": True}, {"block_rows": 700})
    ]
    np.testing.assert_allclose(fits[0][0], fits[1][0], rtol=1e-6, atol=1e-8)
    assert fits[1][2]
    fit = fit_all(Design(x, device=CPU, block_rows=700), y, 1.0, max_iter=500)
    np.testing.assert_allclose(fit.coef, fits[1][0], rtol=1e-12)
    assert fit.converged and fit.n_iter >= 1 and 1 <= fit.n_hessian <= fit.n_iter
