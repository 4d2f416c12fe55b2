"""Stock deepinv TV reconstruction: the reference fmeval's TV solver is compared with.

Tests (tests/unit/ct/test_reconstruction.py) and perf/ct.py compare
:class:`fmeval.ct.tv.TVSolver` (one A and one A^T per step, TVPrior's denoiser iterated in
place) with deepinv's own PGD as its documentation writes it.
"""


def stock_tv(*, lam: float, n_iter: int, prox_iter: int):
    """deepinv's PGD for ``1/2 ||Ax - y||^2 + lam TV(x)`` from the FBP, step 1, as shipped.

    deepinv's own ``L2`` (A^T A x - A^T y, so A^T y again every step, plus one A for the
    objective), ``TVPrior`` with its ``TVDenoiser``.
    """
    import deepinv as dinv

    return dinv.optim.PGD(
        data_fidelity=dinv.optim.L2(),
        prior=dinv.optim.TVPrior(n_it_max=prox_iter),
        lambda_reg=lam,
        stepsize=1.0,
        max_iter=n_iter,
        custom_init=lambda y, physics: physics.fbp(y),
    )
