"""The CT forward model: deepinv's parallel-beam Tomography, its operator norm, and noise.

``Tomography(normalize=True)`` estimates ||A|| by a power iteration that starts
from the *global* torch RNG and costs about 90% of building the operator (100
A^T A products: ~30 s at 1000 views on a CPU). So the norm is measured once per
view count, with the RNG seeded from ``ct.seed`` (:func:`measure_operator_norm`,
rule ``measure_operator``), stored, and every later job builds the operator
without the power iteration and installs the stored norm exactly as deepinv's
``normalize=True`` does (:func:`build_operator`). Sinograms and reconstructions
of one view count thus share one norm, whatever the global RNG state.

Noise is drawn per phantom from its own generator, seeded by (seed, views, noise
level, phantom index), so adding phantoms leaves earlier sinograms unchanged.
"""

import json
import logging
import os
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from fmeval.ct.phantoms import IMAGE_SIZE, load_phantoms
from fmeval.ct.sweep import NoiseLevel
from fmeval.errors import DataError
from fmeval.io.atomic import atomic_path

log = logging.getLogger(__name__)


def measure_operator_norm(views: int, *, seed: int, img_width: int = IMAGE_SIZE) -> float:
    """||A|| of the normalised operator, as deepinv computes it, with the power iteration seeded.

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


def write_operator(*, views: int, seed: int, operator: str | os.PathLike) -> dict:
    """Measure the operator norm of ``views`` and write it with its settings as JSON."""
    import deepinv as dinv

    start = time.perf_counter()
    record = {
        "views": views,
        "img_width": IMAGE_SIZE,
        "operator_norm": measure_operator_norm(views, seed=seed),
        "seed": seed,
        "deepinv": dinv.__version__,
        "seconds": time.perf_counter() - start,
    }
    with atomic_path(operator, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    log.info("views %d: ||A|| = %.6g (%.1f s)", views, record["operator_norm"], record["seconds"])
    return record


def read_operator(path: str | os.PathLike) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read operator file {path} ({exc}); delete it and rerun measure_operator"
        ) from exc


def build_operator(
    views: int,
    *,
    operator_norm: float,
    img_width: int = IMAGE_SIZE,
    device: str | torch.device = "cpu",
    noise_model: torch.nn.Module | None = None,
    parallel_computation: bool | None = None,
):
    """deepinv's normalised Tomography with a stored norm (no power iteration).

    The result equals ``Tomography(..., normalize=True)`` built with the RNG that
    gave ``operator_norm`` (tests/test_ct_tomography.py checks A, A^T and FBP).

    ``parallel_computation`` is deepinv's switch between one grid_sample over all
    angles (fast on a GPU) and a loop over angles; ``None`` picks the loop on CPU,
    where it is 1.6-2x faster at 1000 views (less memory traffic), and the single
    grid_sample elsewhere. Both are the same operator up to float rounding.
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


def noise_seed(*, seed: int, views: int, noise: str, index: int) -> int:
    """The seed of phantom ``index``'s noise at (views, noise): independent of the phantom count."""
    entropy = [int(seed), int(views), zlib.crc32(noise.encode()), int(index)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


def simulate_sinograms(
    phantoms: np.ndarray,
    physics,
    *,
    level: NoiseLevel,
    views: int,
    seed: int,
    batch_size: int,
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
                    noise_seed(seed=seed, views=views, noise=level.name, index=index)
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
    physics = build_operator(views, operator_norm=record["operator_norm"])
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
