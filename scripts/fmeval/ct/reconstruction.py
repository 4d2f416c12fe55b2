"""Reconstruction methods (FBP, RAM, TV) and the batched run of one (method, views, noise) cell.

Each method is a factory: given its options it returns ``solve(y, physics)`` for
one batch. The operator is built once per job and the phantoms go through in
batches of ``batch_size``, under ``torch.inference_mode``.

- ``fbp``: ``physics.fbp`` (deepinv's ramp-filtered back-projection), its ramp times one of
  dival's windows cut off at ``frequency_scaling`` (:mod:`fmeval.ct.filters`).
- ``ram``: deepinv's Reconstruct Anything Model, conditioned on the cell's noise level
  (on the CPU in channels-last layout: oneDNN's convolutions are ~20% faster so, same
  outputs to float rounding).
- ``tv``: TV-regularised least squares, ``argmin_x 1/2 ||Ax - y||^2 + lam ||Dx||_{1,2}``,
  by deepinv's proximal gradient descent (``dinv.optim.PGD`` with ``L2`` and ``TVPrior``)
  from the FBP, step 1 (= 1/||A||^2 for the normalised operator). One A and one A^T
  per step instead of deepinv's default two of each (see ``build_tv``), and TVPrior's
  denoiser's iterations done in place, in one thread
  (:class:`fmeval.ct.tvdenoiser.InPlaceTVDenoiser`); the iterates are the same
  (tests/unit/ct/test_reconstruction.py and test_tvdenoiser.py compare them with stock PGD).
  :class:`TVSolver` runs those PGD steps until each phantom's relative change
  ``||x_k+1 - x_k|| / ||x_k||`` falls below ``tol`` (a converged phantom is frozen, so its
  result does not depend on the batch) or ``n_iter`` steps, and records per phantom the
  steps used and the final objective.
"""

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from fmeval.ct.filters import windowed_fbp
from fmeval.ct.ramweights import load_ram, read_ram_manifest
from fmeval.ct.sweep import METHODS, NoiseLevel
from fmeval.ct.tomography import build_operator, noise_model, read_operator
from fmeval.ct.tvdenoiser import InPlaceTVDenoiser
from fmeval.errors import ConfigError, DataError
from fmeval.io.atomic import atomic_path
from fmeval.io.checkpoints import RANDOM_INIT
from fmeval.io.reading import load_npy, read_json
from fmeval.progress import Progress
from fmeval.runtime import autocast, pick_device

log = logging.getLogger(__name__)

Solver = Callable[[torch.Tensor, object], torch.Tensor]


@dataclass(frozen=True)
class Method:
    """How one method turns its options into a batch solver."""

    build: Callable[..., Solver]
    needs_weights: bool = False


def _fbp(*, window: str = "ram-lak", frequency_scaling: float = 1.0, **_: object) -> Solver:
    if window == "ram-lak" and frequency_scaling == 1.0:
        return lambda y, physics: physics.fbp(y)  # deepinv's own FBP
    return lambda y, physics: windowed_fbp(
        y, physics, window_name=window, scaling=frequency_scaling
    )


def build_tv(*, lam: float, n_iter: int, prox_iter: int, stock: bool = False):
    """deepinv's PGD for ``1/2 ||Ax - y||^2 + lam TV(x)`` from the FBP, step 1.

    fmeval's form takes the data gradient as A^T (Ax - y) and skips the objective, which
    only backtracking or a cost criterion would use (neither is, here): one A and one A^T
    per step; TVPrior's denoiser is :class:`InPlaceTVDenoiser` (deepinv's iterations, in
    place). ``stock=True`` gives deepinv's own ``L2``, objective (A^T A x - A^T y, so A^T y
    again every step, plus one A for the objective) and ``TVDenoiser``, for comparison.
    """
    import deepinv as dinv

    class L2(dinv.optim.L2):
        def grad(self, x: torch.Tensor, y: torch.Tensor, physics, *args, **kwargs) -> torch.Tensor:
            return self.norm * physics.A_adjoint(physics.A(x) - y)

    prior = dinv.optim.TVPrior(n_it_max=prox_iter)
    if not stock:
        prior.TVModel = InPlaceTVDenoiser(crit=prior.TVModel.crit, n_it_max=prox_iter)
    pgd = dinv.optim.PGD(
        data_fidelity=dinv.optim.L2() if stock else L2(),
        prior=prior,
        lambda_reg=lam,
        stepsize=1.0,
        max_iter=n_iter,
        custom_init=lambda y, physics: physics.fbp(y),
    )
    if not stock:
        pgd.has_cost = pgd.fixed_point.iterator.has_cost = False
    return pgd


class TVSolver:
    """TV by PGD (``build_tv``'s steps) to a relative-change tolerance, with diagnostics.

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


def _tv(*, lam: float, n_iter: int, prox_iter: int, tol: float = 0.0, **_: object) -> Solver:
    return TVSolver(lam=lam, n_iter=n_iter, prox_iter=prox_iter, tol=tol)


def _ram(*, model: torch.nn.Module, **_: object) -> Solver:
    return lambda y, physics: model(y, physics)


METHOD_REGISTRY: dict[str, Method] = {
    "fbp": Method(_fbp),
    "tv": Method(_tv),
    "ram": Method(_ram, needs_weights=True),
}
assert set(METHOD_REGISTRY) == set(METHODS)


def make_solver(
    method: str, *, options: Mapping | None = None, model: torch.nn.Module | None = None
) -> Solver:
    """The batch solver of ``method`` with its options (``lam``, ``n_iter``, ``prox_iter``,
    ``tol`` for tv; ``window``, ``frequency_scaling`` for fbp).
    """
    entry = METHOD_REGISTRY[method]
    if entry.needs_weights and model is None:
        raise ConfigError(
            f"method {method!r} needs a model; load it with fmeval.ramweights.load_ram"
        )
    return entry.build(**dict(options or {}), model=model)


def reconstruct(
    sinograms: np.ndarray,
    physics,
    solver: Solver,
    *,
    batch_size: int,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
) -> np.ndarray:
    """(n, h, w) float32 reconstructions of (n, 1, detectors, views) sinograms, batch by batch."""
    out = []
    progress = Progress(len(sinograms), label="reconstruct", unit="images", log=log)
    with torch.inference_mode(), autocast(precision, torch.device(device)):
        for start in range(0, len(sinograms), batch_size):
            y = torch.from_numpy(np.ascontiguousarray(sinograms[start : start + batch_size])).to(
                device
            )
            out.append(solver(y, physics)[:, 0].float().cpu().numpy())
            progress.update(len(y))
    return np.concatenate(out).astype(np.float32, copy=False)


def load_sinograms(path: str | os.PathLike, *, views: int) -> np.ndarray:
    """(n, 1, detectors, views) sinograms of a cell; anything else is a DataError."""
    data = load_npy(path, what="sinograms", fix="rerun simulate_sinograms")
    if data.ndim != 4 or data.shape[-1] != views:
        raise DataError(f"sinograms {path} have shape {data.shape}, not (n, 1, detectors, {views})")
    return data


NO_WEIGHTS = {"weights": "none", "weights_id": "none", "random_init": False}


def load_model(
    method: str, *, ram: str | None, device: torch.device, seed: int
) -> tuple[torch.nn.Module | None, dict]:
    """The network a method needs (RAM) and its weights record; (None, NO_WEIGHTS) for the rest."""
    if not METHOD_REGISTRY[method].needs_weights:
        return None, NO_WEIGHTS
    if not ram:
        raise ConfigError(
            f"method {method!r} needs the RAM weights manifest (rule fetch_ram_weights)"
        )
    weights = read_ram_manifest(ram)
    if weights["random_init"]:
        log.warning(
            "RAM has RANDOM weights (ct.ram.weights: random): for tests only, not a real result"
        )
    return to_fast_layout(load_ram(weights, device=device, seed=seed)), weights


def to_fast_layout(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` (in place) in channels-last layout if it is on the CPU, where oneDNN's
    convolutions run ~20% faster so (RAM: same outputs to float rounding, ~1e-6 relative).
    """
    if next(model.parameters()).device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    return model


def write_reconstruction(images_array: np.ndarray, meta: dict, *, images: str, meta_path: str):
    """The reconstructions (.npy) and their metadata (JSON), each atomically."""
    if meta["random_init"]:
        meta["banner"] = f"RAM weights: {RANDOM_INIT} (tests only, not a real result)"
    with atomic_path(images, suffix=".npy") as tmp:
        np.save(tmp, images_array)
    with atomic_path(meta_path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1))


def run_reconstruction(
    *,
    method: str,
    sinograms: str,
    operator: str,
    ram: str | None,
    matrix: str,
    views: int,
    noise: NoiseLevel,
    options: Mapping,
    seed: int,
    precision: str,
    batch_size: int,
    device: str,
    images: str,
    meta: str,
    tuned: str | None = None,
) -> dict:
    """Rule ``reconstruct_sinograms``: one (method, views, noise) cell's reconstructions.

    ``tuned``: the cell's tuning record (rule ``tune_baseline``), whose ``chosen`` values
    fill the options the config leaves to tuning.
    """
    import deepinv as dinv

    from fmeval.ct.tuning import apply_tuning

    options, tuning = apply_tuning(options, tuned, method=method, views=views, noise=noise.name)

    # FBP runs on the CPU: its rule holds no GPU (get_method_gpus in rules/common.smk)
    torch_device = pick_device("cpu" if method == "fbp" else device)
    log.info("running on %s (device: %s), precision %s", torch_device, device, precision)
    data = load_sinograms(sinograms, views=views)
    model, weights = load_model(method, ram=ram, device=torch_device, seed=seed)
    start = time.perf_counter()
    physics = build_operator(
        views,
        operator_norm=read_operator(operator)["operator_norm"],
        matrix=matrix,
        device=torch_device,
        noise_model=noise_model(noise),
    )
    build_s = time.perf_counter() - start
    solver = make_solver(method, options=options, model=model)
    start = time.perf_counter()
    out = reconstruct(
        data, physics, solver, batch_size=batch_size, device=torch_device, precision=precision
    )
    solve_s = time.perf_counter() - start
    log.info(
        "%s, %d views, noise %s: %d phantoms in %.2f s (%.3f s each) + %.2f s operator build",
        method,
        views,
        noise.name,
        len(out),
        solve_s,
        solve_s / len(out),
        build_s,
    )
    record = {
        "method": method,
        "views": views,
        "noise": noise.name,
        "gain": noise.gain,
        "sigma": noise.sigma,
        "options": dict(options),
        "tuned": tuning,
        "weights": weights["weights_id"] if method == "ram" else "none",
        "random_init": bool(weights["random_init"]),
        "n": len(out),
        "precision": precision,
        "device": str(torch_device),  # where it ran (an execution setting: reruns nothing)
        "operator_build_s": build_s,
        "solve_s": solve_s,
        "deepinv": dinv.__version__,
    }
    if isinstance(solver, TVSolver):
        record["iterations"] = solver.iterations
        record["objective"] = solver.objective
        record["converged"] = solver.converged
        log.info(
            "tv: %d of %d phantoms hit the maximum of %d steps (tol %g); steps used %d-%d",
            len(out) - sum(solver.converged), len(out), solver.n_iter, solver.tol,
            min(solver.iterations), max(solver.iterations),
        )  # fmt: skip
    write_reconstruction(out, record, images=images, meta_path=meta)
    return record


def read_reconstruction_meta(path: str | os.PathLike) -> dict:
    return read_json(path, fix="rerun reconstruct_sinograms")
