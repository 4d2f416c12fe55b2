"""Seeded stratified splits: a one-folder dataset's test split, the probe's validation split."""

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from fmeval.errors import ConfigError, DataError


def stratified_split(
    labels: Sequence, *, fraction: float, seed: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): ``fraction`` of each class held out, seeded.

    Indices are returned sorted, so the split depends only on the labels, the fraction
    and the seed. ``what`` names the split in errors (e.g. the config key to change).
    """
    labels = np.asarray(labels)
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"{what}: the fraction {fraction} must lie strictly between 0 and 1")
    values, counts = np.unique(labels, return_counts=True)
    if (counts < 2).any():
        few = [str(v) for v in values[counts < 2]]
        raise DataError(
            f"{what}: class(es) {few[:10]} have fewer than 2 images, so a stratified split "
            "cannot put one on each side; add images to them or remove those classes."
        )
    try:
        kept, held = train_test_split(
            np.arange(len(labels)), test_size=fraction, random_state=seed, stratify=labels
        )
    except ValueError as exc:
        raise DataError(
            f"{what}: cannot split {len(labels)} images of {len(values)} classes with fraction "
            f"{fraction} ({exc}); change the fraction or add images."
        ) from exc
    return np.sort(kept), np.sort(held)
