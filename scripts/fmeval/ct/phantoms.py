"""Seeded ellipse phantoms: the first ``n`` images of dival's ellipses test part (scored) or
validation part (for tuning the baselines, :mod:`fmeval.ct.tuning`).

``EllipsesDataset(fixed_seeds=True)`` draws the test part from one RandomState
seeded with 1 (the validation part from one seeded with 2), image after image, so the
first ``n`` phantoms never depend on ``n``: asking for 64 gives the 32 of a 32-phantom
run, then 32 more.
"""

import logging
import os
from itertools import islice

import numpy as np

from fmeval.errors import DataError
from fmeval.io.atomic import atomic_path
from fmeval.io.reading import load_npy

log = logging.getLogger(__name__)

IMAGE_SIZE = 128


PARTS = ("test", "validation")


def phantom_ids(n: int, *, part: str = "test") -> list[str]:
    """The ids of the first ``n`` phantoms of ``part``: ``"{part}:{index}"``."""
    return [f"{part}:{i}" for i in range(n)]


def generate_phantoms(n: int, *, image_size: int = IMAGE_SIZE, part: str = "test") -> np.ndarray:
    """The first ``n`` ellipse phantoms of dival's ``part`` (test or validation), float32
    (n, size, size) in [0, 1]."""
    from dival.datasets.ellipses_dataset import EllipsesDataset

    if part not in PARTS:
        raise ValueError(f"phantom part {part!r}: one of {PARTS}")
    dataset = EllipsesDataset(image_size=image_size, fixed_seeds=True)
    images = islice(dataset.generator(part), n)
    return np.stack([np.asarray(image, dtype=np.float32) for image in images])


def make_phantoms(*, n_phantoms: int, phantoms: str | os.PathLike, part: str = "test") -> None:
    """Write the first ``n_phantoms`` of ``part`` to ``phantoms`` (.npy), atomically."""
    stack = generate_phantoms(n_phantoms, part=part)
    with atomic_path(phantoms, suffix=".npy") as tmp:
        np.save(tmp, stack)
    log.info("wrote %d %s phantoms %s to %s", n_phantoms, part, stack.shape[1:], phantoms)


def load_phantoms(path: str | os.PathLike) -> np.ndarray:
    """The (n, size, size) float32 phantoms written by :func:`make_phantoms`."""
    phantoms = load_npy(path, what="phantoms", fix="delete it and rerun make_phantoms")
    if phantoms.ndim != 3 or phantoms.dtype != np.float32:
        raise DataError(
            f"phantoms {path} are {phantoms.dtype} {phantoms.shape}, not float32 (n, h, w); rerun "
            "make_phantoms"
        )
    return phantoms
