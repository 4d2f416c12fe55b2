"""The CT forward model: deepinv's parallel-beam Tomography as a cached sparse matrix, and noise.

deepinv's ``Tomography(img_width=128, angles=views, normalize=True)`` samples the image on
one rotated grid per view with ``grid_sample``; its A^T goes through autograd (~3-6x the
cost of A). It is a fixed linear map, so rule ``measure_operator`` writes it down once per
view count (:func:`fmeval.ct.radon.radon_matrix`, from deepinv's own grids and
grid_sample's bilinear weights) and stores it with deepinv's ||A||
(``results/ct/operators/{views}.npz`` and ``.json``). Every reconstruction job loads a
:class:`fmeval.ct.operator.SparseTomography` (:func:`build_operator`): a deepinv ``Tomography``
whose A and A^T are CSR products, so deepinv's ``fbp``, RAM and PGD
run unchanged on it. It equals stock deepinv to float rounding (~1e-7 relative; tests in
tests/unit/ct/test_operator.py). The sinograms are simulated with deepinv's own operator
(:func:`stock_operator`, one A per phantom), so they stay deepinv's bit for bit.

Noise is drawn per phantom from its own generator, seeded by (seed, views, noise
level, phantom index), so adding phantoms leaves earlier sinograms unchanged.
"""

import json
import logging
import os
import time
import zlib

import numpy as np
import torch

from fmeval.ct.operator import SparseTomography
from fmeval.ct.phantoms import IMAGE_SIZE, load_phantoms
from fmeval.ct.radon import RadonMatrix, radon_matrix, read_matrix, write_matrix
from fmeval.ct.sweep import NoiseLevel
from fmeval.errors import DataError
from fmeval.io.atomic import atomic_path
from fmeval.io.reading import read_json

log = logging.getLogger(__name__)


def measure_operator_norm(views: int, *, seed: int, img_width: int = IMAGE_SIZE) -> float:
    """||A|| as stock ``Tomography(normalize=True)`` measures it (the reference for tests, perf).

    The global torch RNG is seeded inside :func:`torch.random.fork_rng`, so the
    caller's RNG state is left as it was.
    """
    import deepinv as dinv

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        physics = dinv.physics.Tomography(
            img_width=img_width, angles=views, normalize=True, device="cpu"
        )
    return float(physics.operator_norm)


def write_operator(
    *, views: int, seed: int, operator: str | os.PathLike, matrix: str | os.PathLike
) -> dict:
    """Build the sparse operator of ``views`` (``matrix``, .npz) and write its norm as JSON.

    The norm is stock deepinv's (its power iteration; :func:`fmeval.ct.operator.measure_norm`
    on the matrix agrees to ~3e-7 in a third of the time, but the sinograms' Poisson noise is
    discrete, so the pipeline keeps deepinv's norm bit for bit and its sinograms with it).
    """
    import deepinv as dinv

    start = time.perf_counter()
    radon = radon_matrix(views, img_width=IMAGE_SIZE)
    matrix_s = time.perf_counter() - start
    norm = measure_operator_norm(views, seed=seed)  # stock deepinv's, bit for bit
    norm_s = time.perf_counter() - start - matrix_s
    write_matrix(radon, matrix)
    record = {
        "views": views,
        "img_width": IMAGE_SIZE,
        "operator_norm": norm,
        "seed": seed,
        "deepinv": dinv.__version__,
        "seconds": time.perf_counter() - start,
        "matrix_seconds": matrix_s,
        "norm_seconds": norm_s,
        "matrix_nnz": int(radon.values.numel()),
        "matrix_mb": radon.nbytes / 1e6,
    }
    with atomic_path(operator, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    log.info(
        "views %d: %d nonzeros (%.1f MB) in %.1f s, ||A|| = %.6g in %.1f s",
        views, record["matrix_nnz"], record["matrix_mb"], matrix_s, norm, norm_s,
    )  # fmt: skip
    return record


def read_operator(path: str | os.PathLike) -> dict:
    return read_json(path, what="operator file", fix="delete it and rerun measure_operator")


def build_operator(
    views: int,
    *,
    operator_norm: float,
    matrix: RadonMatrix | str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    noise_model: torch.nn.Module | None = None,
):
    """deepinv's normalised Tomography of ``views`` as CSR products (:class:`SparseTomography`).

    ``matrix``: the cached matrix (a path from ``measure_operator`` or a RadonMatrix);
    ``None`` builds it here (seconds at 1000 views).
    """
    if matrix is None:
        matrix = radon_matrix(views, img_width=IMAGE_SIZE)
    elif not isinstance(matrix, RadonMatrix):
        matrix = read_matrix(matrix, views=views)
    if matrix.views != views:
        raise DataError(f"the operator matrix is for {matrix.views} views, not {views}")
    return SparseTomography(
        matrix, operator_norm=operator_norm, device=device, noise_model=noise_model
    )


def stock_operator(
    views: int,
    *,
    operator_norm: float,
    img_width: int = IMAGE_SIZE,
    device: str | torch.device = "cpu",
    noise_model: torch.nn.Module | None = None,
    parallel_computation: bool | None = None,
):
    """deepinv's own normalised Tomography with a stored norm (no power iteration).

    The result equals ``Tomography(..., normalize=True)``; the tests and perf/ct.py
    compare :func:`build_operator` with it. ``parallel_computation``: deepinv's single
    grid_sample over all angles (``None``: on GPUs) or its loop over angles (CPU).
    """
    import deepinv as dinv

    if parallel_computation is None:
        parallel_computation = torch.device(device).type != "cpu"
    physics = dinv.physics.Tomography(
        img_width=img_width,
        angles=views,
        normalize=False,
        device=device,
        parallel_computation=parallel_computation,
    )
    # What Tomography.__init__ does after its power iteration (deepinv 0.5).
    physics._auto_grad_adjoint_fn = None
    physics.register_buffer(
        "operator_norm", torch.tensor(operator_norm, dtype=torch.float32, device=device)
    )
    physics.normalize = True
    if noise_model is not None:
        physics.noise_model = noise_model
    return physics.to(device)


def noise_model(
    level: NoiseLevel, *, generator: torch.Generator | None = None
) -> torch.nn.Module | None:
    """deepinv's model of a noise level: Poisson-Gaussian, Gaussian when gain is 0, None
    when clean.
    """
    import deepinv as dinv

    if level.is_clean:
        return None
    if level.gain == 0:
        return dinv.physics.GaussianNoise(sigma=level.sigma, rng=generator)
    return dinv.physics.PoissonGaussianNoise(
        gain=level.gain, sigma=level.sigma, clip_positive=True, rng=generator
    )


def noise_seed(*, seed: int, views: int, noise: str, index: int, part: str = "test") -> int:
    """The seed of phantom ``index``'s noise at (views, noise): independent of the phantom count.
    Validation phantoms (``part``) draw from their own seeds; the test part's are unchanged."""
    entropy = [int(seed), int(views), zlib.crc32(noise.encode()), int(index)]
    if part != "test":
        entropy.append(zlib.crc32(part.encode()))
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


def simulate_sinograms(
    phantoms: np.ndarray,
    physics,
    *,
    level: NoiseLevel,
    views: int,
    seed: int,
    batch_size: int,
    part: str = "test",
) -> np.ndarray:
    """Noisy sinograms (n, 1, detectors, views) float32 of (n, h, w) phantoms, on the CPU.

    The clean projections are batched; each phantom's noise comes from its own
    seeded generator, so sinogram ``i`` depends only on phantom ``i`` and its seed.
    """
    out = []
    with torch.inference_mode():
        for start in range(0, len(phantoms), batch_size):
            x = torch.from_numpy(phantoms[start : start + batch_size]).unsqueeze(1)
            clean = physics.A(x)
            for offset, sino in enumerate(clean):
                index = start + offset
                generator = torch.Generator().manual_seed(
                    noise_seed(seed=seed, views=views, noise=level.name, index=index, part=part)
                )
                model = noise_model(level, generator=generator)
                out.append((sino if model is None else model(sino[None])[0]).numpy())
    return np.stack(out).astype(np.float32, copy=False)


def run_simulation(
    *,
    phantoms: str,
    operator: str,
    views: int,
    noise: NoiseLevel,
    seed: int,
    batch_size: int,
    sinograms: str,
) -> None:
    """Rule ``simulate_sinograms``: one (views, noise) cell's sinograms (.npy)."""
    record = read_operator(operator)
    if record["views"] != views:
        raise DataError(
            f"operator file {operator} is for {record['views']} views, not {views}; rerun "
            "measure_operator"
        )
    images = load_phantoms(phantoms)
    start = time.perf_counter()
    # Stock deepinv's A for the data: one A per phantom, and the sinograms (Poisson noise is
    # discrete: a 1e-7 change in a rate can move a count) stay those of deepinv bit for bit.
    physics = stock_operator(views, operator_norm=record["operator_norm"])
    log.info("built the %d-view operator in %.2f s", views, time.perf_counter() - start)
    start = time.perf_counter()
    data = simulate_sinograms(
        images, physics, level=noise, views=views, seed=seed, batch_size=batch_size
    )
    log.info(
        "simulated %d sinograms %s in %.2f s",
        len(data),
        data.shape[1:],
        time.perf_counter() - start,
    )
    with atomic_path(sinograms, suffix=".npy") as tmp:
        np.save(tmp, data)
