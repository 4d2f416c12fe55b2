"""TV-regularised least squares by deepinv's proximal gradient descent, with diagnostics.

``argmin_x 1/2 ||Ax - y||^2 + lam ||Dx||_{1,2}`` by deepinv's PGD (``dinv.optim.PGD`` with
``L2`` and ``TVPrior``) from the FBP, step 1 (= 1/||A||^2 for the normalised operator).
One A and one A^T per step instead of deepinv's default two of each (the data gradient is
taken as A^T (Ax - y), and the objective, which only backtracking or a cost criterion would
use, is skipped), and TVPrior's denoiser's iterations done in place, in one thread
(:class:`fmeval.ct.tvdenoiser.InPlaceTVDenoiser`); the iterates are the same
(tests/unit/ct/test_reconstruction.py and test_tvdenoiser.py compare them with stock PGD,
tests/reference_ct.py).
"""

import torch

from fmeval.ct.tvdenoiser import InPlaceTVDenoiser


class TVSolver:
    """TV by PGD to a relative-change tolerance, with diagnostics.

    ``tol=0`` runs all ``n_iter`` steps, deepinv's PGD iterate for iterate. Per phantom,
    ``iterations`` (steps used; ``n_iter`` when it did not converge) and ``objective``
    (``1/2 ||Ax - y||^2 + lam TV(x)`` at the result) are appended batch by batch.
    """

    def __init__(self, *, lam: float, n_iter: int, prox_iter: int, tol: float = 0.0):
        self.lam, self.n_iter, self.prox_iter, self.tol = float(lam), n_iter, prox_iter, tol
        self.iterations: list[int] = []
        self.objective: list[float] = []
        self.converged: list[bool] = []

    def __call__(self, y: torch.Tensor, physics) -> torch.Tensor:
        import deepinv as dinv

        # A fresh prior per batch: its TVDenoiser warm-starts from its previous call.
        prior = dinv.optim.TVPrior(n_it_max=self.prox_iter)
        prior.TVModel = InPlaceTVDenoiser(crit=prior.TVModel.crit, n_it_max=self.prox_iter)
        x = physics.fbp(y)
        n = x.shape[0]
        used = torch.full((n,), self.n_iter, dtype=torch.int64)
        done = torch.zeros(n, dtype=torch.bool)
        for step in range(1, self.n_iter + 1):
            z = x - physics.A_adjoint(physics.A(x) - y)
            new = prior.prox(z, gamma=self.lam)
            change = (new - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1).clamp_min(1e-12)
            new[done] = x[done]  # converged phantoms stay where they stopped
            x = new
            now = ~done & (change < self.tol)
            used[now] = step
            done |= now
            if bool(done.all()):
                break
        residual = 0.5 * (physics.A(x) - y).flatten(1).pow(2).sum(dim=1)
        objective = residual + self.lam * prior.fn(x).reshape(n)
        self.iterations += used.tolist()
        self.converged += done.tolist()
        self.objective += objective.double().tolist()
        return x
