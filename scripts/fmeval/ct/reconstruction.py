"""Reconstruction methods (FBP, RAM, TV) and the batched run of one (method, views, noise) cell.

Each method is a factory: given its options it returns ``solve(y, physics)`` for
one batch. The operator is built once per job and the phantoms go through in
batches of ``batch_size``, under ``torch.inference_mode``.

- ``fbp``: ``physics.fbp`` (deepinv's ramp-filtered back-projection), its ramp times one of
  dival's windows cut off at ``frequency_scaling`` (:mod:`fmeval.ct.filters`).
- ``ram``: deepinv's Reconstruct Anything Model, conditioned on the cell's noise level
  (on the CPU in channels-last layout: oneDNN's convolutions are ~20% faster so, same
  outputs to float rounding).
- ``tv``: TV-regularised least squares by deepinv's proximal gradient descent from the FBP
  (:class:`fmeval.ct.tv.TVSolver`), to a relative-change tolerance.
"""

import json
import logging
import os
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch

from fmeval.ct.filters import windowed_fbp
from fmeval.ct.methods import METHODS
from fmeval.ct.ramweights import load_ram, read_ram_manifest
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import build_operator, noise_model, read_operator
from fmeval.ct.tuned import apply_tuning
from fmeval.ct.tv import TVSolver
from fmeval.errors import ConfigError, DataError
from fmeval.io.atomic import atomic_path
from fmeval.io.checkpoints import RANDOM_INIT
from fmeval.io.reading import load_npy, read_json
from fmeval.progress import Progress
from fmeval.runtime import autocast, pick_device

log = logging.getLogger(__name__)

Solver = Callable[[torch.Tensor, object], torch.Tensor]


def _fbp(*, window: str = "ram-lak", frequency_scaling: float = 1.0, **_: object) -> Solver:
    if window == "ram-lak" and frequency_scaling == 1.0:
        return lambda y, physics: physics.fbp(y)  # deepinv's own FBP
    return lambda y, physics: windowed_fbp(
        y, physics, window_name=window, scaling=frequency_scaling
    )


def _tv(*, lam: float, n_iter: int, prox_iter: int, tol: float = 0.0, **_: object) -> Solver:
    return TVSolver(lam=lam, n_iter=n_iter, prox_iter=prox_iter, tol=tol)


def _ram(*, model: torch.nn.Module, **_: object) -> Solver:
    return lambda y, physics: model(y, physics)


# Each method's builder: options (and the network, for a method whose record needs weights)
# -> batch solver. The keys are the records' (fmeval.ct.methods; tests/unit/ct/test_methods.py).
BUILDERS: dict[str, Callable[..., Solver]] = {"fbp": _fbp, "tv": _tv, "ram": _ram}


def make_solver(
    method: str, *, options: Mapping | None = None, model: torch.nn.Module | None = None
) -> Solver:
    """The batch solver of ``method`` with its options (``lam``, ``n_iter``, ``prox_iter``,
    ``tol`` for tv; ``window``, ``frequency_scaling`` for fbp).
    """
    if METHODS[method].needs_weights and model is None:
        raise ConfigError(
            f"method {method!r} needs a model; load it with fmeval.ramweights.load_ram"
        )
    return BUILDERS[method](**dict(options or {}), model=model)


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
    if not METHODS[method].needs_weights:
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

    options, tuning = apply_tuning(options, tuned, method=method, views=views, noise=noise.name)

    # a method whose record says no GPU (FBP) runs on the CPU: its rule holds none
    torch_device = pick_device(device if METHODS[method].gpu else "cpu")
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
        "weights": weights["weights_id"],  # "none" for a method without weights
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
