"""Cross-validation folds of the probe: leave-one-image-out or k folds of whole images.

``auto`` is leave-one-image-out up to :data:`LOO_MAX` training images, else ``k`` folds.
K folds are scikit-learn's ``GroupKFold(k, shuffle=True, random_state=seed)`` over the
images (sorted by name, then a seeded shuffle, then ``array_split``), so every patch of an
image is held out together and the folds are reproducible and recorded.
"""

from dataclasses import dataclass

import numpy as np

from fmeval.errors import ConfigError
from fmeval.runtime import available_memory

CV_SCHEMES = ("auto", "loo", "kfold")
LOO_MAX = 20


@dataclass(frozen=True)
class Folds:
    """Which fold holds out each image (``fold_of[i]`` for ``images[i]``)."""

    scheme: str  # "loo" or "kfold"
    k: int
    seed: int
    fold_of: np.ndarray  # (n_images,) int

    def images_of(self, fold: int, images: list[str]) -> list[str]:
        return [images[i] for i in np.flatnonzero(self.fold_of == fold)]

    def label(self, fold: int, images: list[str]) -> str:
        """The ``image`` column of cv.parquet: the held-out image, or ``fold-<i>``."""
        return (
            images[int(np.flatnonzero(self.fold_of == fold)[0])]
            if self.scheme == "loo"
            else (f"fold-{fold}")
        )


def assign_folds(images: list[str], *, cv: str = "auto", k: int = 10, seed: int = 0) -> Folds:
    """The folds of ``images`` for ``probe.cv`` (see the module docstring)."""
    if cv not in CV_SCHEMES:
        raise ConfigError(f"probe.cv is {cv!r}; use one of {list(CV_SCHEMES)}")
    n = len(images)
    scheme = ("loo" if n <= LOO_MAX else "kfold") if cv == "auto" else cv
    if scheme == "loo":
        return Folds("loo", n, seed, np.arange(n))
    if not 2 <= k <= n:
        raise ConfigError(
            f"probe.folds is {k} but there are {n} training images; use 2..{n} folds, or "
            "probe.cv: loo"
        )
    from sklearn.model_selection import GroupKFold

    fold_of = np.empty(n, dtype=np.int64)
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros(n), groups=np.asarray(images))):
        fold_of[test] = f
    return Folds("kfold", k, seed, fold_of)


def memory_budget(mb: float | None) -> float:
    """The probe's memory budget in bytes: ``mb``, or half of the memory available now."""
    if mb:
        return float(mb) * 2**20
    return 0.5 * available_memory()
