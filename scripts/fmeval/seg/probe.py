"""The linear foreground probe's data: the training patches it learns from, and their design.

The model is Tutorial 5's: ``StandardScaler`` + ``LogisticRegression(C, max_iter,
random_state=0)`` on the training patches whose foreground fraction is clearly in or out
(below ``bg_threshold`` or above ``fg_threshold``), scored per held-out image by
``average_precision_score``. :mod:`fmeval.seg.cv` cross-validates it over C (all folds of the
C path at once, see :mod:`fmeval.learn.logistic`); :mod:`fmeval.seg.fit` fits the final probe.
The tutorial's own loop, a fresh scikit-learn fit per fold and C, is tests/reference_probe.py.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from fmeval.errors import DataError
from fmeval.features.store import read_split_rows
from fmeval.learn.design import Design
from fmeval.runtime import pick_device

#: Feature-file metadata carried into every probe output (random weights are never silent).
CARRIED_META = (
    "dataset",
    "model",
    "model_name",
    "backend",
    "weights",
    "random_init",
    "res",
    "patch_size",
)


@dataclass
class ProbeData:
    """The selected patches: features, binary labels and the image each comes from."""

    x: np.ndarray  # (N, D) float32
    y: np.ndarray  # (N,) int, 1 = foreground
    image: np.ndarray  # (N,) int, index into ``images``
    images: list[str]
    meta: dict = field(default_factory=dict)


def load_probe_data(
    path: str | os.PathLike, *, fg_threshold: float, bg_threshold: float, split: str = "train"
) -> ProbeData:
    """The ``split`` patches of a feature file that are clearly foreground (> fg_threshold) or
    background (< bg_threshold), reading only the rows it keeps (float32).
    """
    rows = read_split_rows(
        path, split=split, keep=lambda fg: (fg < bg_threshold) | (fg > fg_threshold)
    )
    if rows.unmasked:
        raise DataError(
            f"{split} images without a mask in the feature file: {rows.unmasked[:5]}; every "
            f"{split} image needs one"
        )
    if not len(rows.fg_fraction):
        raise DataError(
            f"no {split} patch has a foreground fraction below {bg_threshold} or above "
            f"{fg_threshold}; check the labels or widen probe.bg_threshold / probe.fg_threshold"
        )
    used = np.unique(rows.image_index)
    remap = np.full(len(rows.images), -1)
    remap[used] = np.arange(len(used))
    return ProbeData(
        x=rows.features,
        y=(rows.fg_fraction > fg_threshold).astype(np.int64),
        image=remap[rows.image_index],
        images=[rows.images[i] for i in used],
        meta={k: rows.meta[k] for k in CARRIED_META if k in rows.meta},
    )


def check_classes(data: ProbeData) -> None:
    """A DataError unless the selected patches hold both classes."""
    n_fg = int(data.y.sum())
    if n_fg in (0, len(data.y)):
        which = "foreground" if n_fg else "background"
        raise DataError(
            f"all {len(data.y)} selected training patches are {which}; the probe needs both "
            "classes. "
            "Check the labels' alpha channels."
        )


def standardised_design(data: ProbeData, device: str, budget: float) -> tuple[Design, float]:
    """The probe's design over ``data.x``, and the bytes of ``budget`` left beside it.

    On the CPU the rows are standardised one cache-sized block at a time (as fast per row as
    a cached float64 matrix, at half its memory: issue 13). On an accelerator the float64
    matrix is cached when it fits half of the budget left beside the features.
    """
    dev = pick_device(device)
    n, p = data.x.shape[0], data.x.shape[1] + 1
    free = budget - data.x.nbytes
    cache = dev.type != "cpu" and 8 * n * p <= free / 2
    return Design(data.x, device=dev, cache=cache), free - (8 * n * p if cache else 0)
