"""The per-patch classifier variant: logistic regression fitted on one annotated frame.

For each object, a binary L2 logistic regression (fmeval's batched solver, on features
standardised like ``StandardScaler``) separates the patches that the object covers for
more than half from the rest, on the patches of one frame (the first or the middle
one). Applied to every frame, each patch takes the most probable object when its
probability exceeds 0.5, else the background.
"""

import logging

import numpy as np
import torch
from PIL import Image

from fmeval.errors import ConfigError
from fmeval.features.images import patch_fractions
from fmeval.learn.design import standardise
from fmeval.learn.logistic import fit_full

log = logging.getLogger(__name__)

TRAIN_FRAMES = ("first", "middle")


def train_index(n_frames: int, train_frame: str) -> int:
    """The index of the annotated frame the classifier learns from."""
    if train_frame not in TRAIN_FRAMES:
        raise ConfigError(
            f"video.classifier.train_frame is {train_frame!r}; use one of {TRAIN_FRAMES}"
        )
    return 0 if train_frame == "first" else n_frames // 2


def object_fractions(
    labels: np.ndarray, ids: list[int], *, grid: tuple[int, int], patch_size: int
) -> np.ndarray:
    """(P, len(ids)) fraction of each patch covered by each object id."""
    cols = []
    for obj in ids:
        mask = Image.fromarray(((labels == obj) * 255).astype(np.uint8), mode="L")
        cols.append(patch_fractions(mask, grid, patch_size=patch_size).reshape(-1))
    return np.stack(cols, 1)


class PatchClassifier:
    """One binary logistic regression per object, on standardised patch features."""

    def __init__(
        self,
        x: np.ndarray,
        fractions: np.ndarray,
        *,
        c: float,
        max_iter: int,
        device: torch.device | None = None,
    ) -> None:
        z = standardise(x, device=device or torch.device("cpu"))
        self.mean, self.scale = z.mean, z.scale
        self.coef, self.intercept, self.constant = [], [], []
        for k in range(fractions.shape[1]):
            y = (fractions[:, k] > 0.5).astype(np.float64)
            if y.min() == y.max():  # one class only: nothing to fit, predict it everywhere
                log.warning("object %d: every training patch is %s", k + 1, "in" if y[0] else "out")
                (
                    self.coef.append(None),
                    self.intercept.append(None),
                    self.constant.append(float(y[0])),
                )
                continue
            coef, icpt, converged = fit_full(z.z1, y, c, max_iter=max_iter)
            if not converged:
                log.warning(
                    "object %d: the classifier did not converge in %d passes", k + 1, max_iter
                )
            self.coef.append(coef), self.intercept.append(icpt), self.constant.append(None)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(P, K) probability of each object for each row of ``x``."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        out = np.empty((len(z), len(self.coef)))
        for k, (coef, icpt, const) in enumerate(zip(self.coef, self.intercept, self.constant)):
            out[:, k] = const if const is not None else 1 / (1 + np.exp(-(z @ coef + icpt)))
        return out

    def soft_labels(self, x: np.ndarray) -> torch.Tensor:
        """(P, 1 + K): a constant 0.5 background channel, then each object's probability."""
        p = self.predict_proba(x)
        return torch.as_tensor(
            np.concatenate([np.full((len(p), 1), 0.5), p], 1), dtype=torch.float32
        )
