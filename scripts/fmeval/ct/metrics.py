"""Image quality: PSNR and SSIM per phantom (skimage), and per-cell summaries with 95% CIs.

As in the tutorial, both metrics use ``data_range = gt.max() - gt.min()`` of the
ground truth, not of the reconstruction, so a method cannot change its own scale.
"""

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from fmeval.errors import DataError

METRICS = ("psnr", "ssim")


def data_range(gt: np.ndarray) -> float:
    return float(gt.max() - gt.min())


def psnr(gt: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of ``image`` against ``gt``, with the ground truth's data range."""
    return float(peak_signal_noise_ratio(gt, image, data_range=data_range(gt)))


def ssim(gt: np.ndarray, image: np.ndarray) -> float:
    """SSIM (skimage defaults: 7x7 uniform window) with the ground truth's data range."""
    return float(structural_similarity(gt, image, data_range=data_range(gt)))


def score_images(gt: np.ndarray, images: np.ndarray) -> pd.DataFrame:
    """One row per phantom: ``phantom``, ``psnr``, ``ssim``, for (n, h, w) stacks of equal shape."""
    if gt.shape != images.shape:
        raise DataError(
            f"reconstructions have shape {images.shape} but the phantoms {gt.shape}; rerun the cell"
        )
    gt = gt.astype(np.float64, copy=False)
    images = images.astype(np.float64, copy=False)
    return pd.DataFrame(
        {
            "phantom": np.arange(len(gt), dtype=np.int64),
            "psnr": [psnr(g, x) for g, x in zip(gt, images)],
            "ssim": [ssim(g, x) for g, x in zip(gt, images)],
        }
    )


def mean_ci(
    values: Sequence[float], *, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """Mean, sample sd and the Student-t confidence interval of the mean (NaN bounds for n < 2)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def summarise_cells(scores: pd.DataFrame, *, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by``: ``n`` and, per metric, ``{metric}_mean``, ``_sd``, ``_ci_low``,
    ``_ci_high``.
    """
    rows = []
    for key, part in scores.groupby(list(by), sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["n"] = len(part)
        for metric in METRICS:
            mean, sd, low, high = mean_ci(part[metric])
            row.update(
                {
                    f"{metric}_mean": mean,
                    f"{metric}_sd": sd,
                    f"{metric}_ci_low": low,
                    f"{metric}_ci_high": high,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)
