"""PSNR/SSIM per phantom and the per-cell summaries, against hand-checked reference values."""

import math

import numpy as np
import pandas as pd
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from fmeval.ct.metrics import mean_ci, psnr, score_images, ssim, summarise_cells
from fmeval.errors import DataError


def half_plane() -> np.ndarray:
    """8x8: top half 1, bottom half 0 (data range 1)."""
    gt = np.zeros((8, 8))
    gt[:4] = 1.0
    return gt


def test_psnr_of_a_constant_offset_is_20_db():
    # MSE = 0.1^2 = 0.01 and data range 1: 10 log10(1 / 0.01) = 20 dB.
    assert psnr(half_plane(), half_plane() + 0.1) == pytest.approx(20.0, abs=1e-9)


def test_psnr_of_two_wrong_rows_is_10_log10_16():
    # 16 of 64 pixels off by 0.5: MSE = 16 * 0.25 / 64 = 1/16, PSNR = 10 log10(16) = 12.0412 dB.
    image = half_plane()
    image[4:6] += 0.5
    assert psnr(half_plane(), image) == pytest.approx(12.041199826559248, abs=1e-9)


def test_ssim_of_a_constant_offset_by_hand():
    # With the 7x7 window, the 2x2 valid centres see a mean of 4/7 (rows 0-6) or 3/7 (rows 1-7).
    # An offset c leaves the contrast-structure term at 1, so SSIM is the mean luminance term
    # L(m) = (2 m (m + c) + C1) / (m^2 + (m + c)^2 + C1), C1 = (0.01 * 1)^2, c = 0.1:
    # (L(4/7) + L(3/7)) / 2 = (0.987137 + 0.978409) / 2 = 0.982773.
    assert ssim(half_plane(), half_plane() + 0.1) == pytest.approx(0.9827733159872436, abs=1e-9)


def test_identical_images_score_ssim_one():
    assert ssim(half_plane(), half_plane()) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [1.0, 0.5, 3.0])
def test_metrics_match_skimage_with_the_ground_truth_range(seed, scale):
    rng = np.random.default_rng(seed)
    gt = rng.random((3, 32, 32)).astype(np.float32) * scale
    images = (gt + rng.normal(0, 0.05 * scale, gt.shape)).astype(np.float32)
    rows = score_images(gt, images)
    assert list(rows["phantom"]) == [0, 1, 2]
    for i in range(3):
        g, x = gt[i].astype(np.float64), images[i].astype(np.float64)
        rng_gt = g.max() - g.min()
        assert rows["psnr"][i] == pytest.approx(
            peak_signal_noise_ratio(g, x, data_range=rng_gt), rel=1e-12
        )
        assert rows["ssim"][i] == pytest.approx(
            structural_similarity(g, x, data_range=rng_gt), rel=1e-12
        )


def test_the_range_is_the_ground_truths_not_the_reconstructions():
    # A reconstruction with a wider range must not change the data range (and so the score).
    gt = half_plane()
    wild = gt.copy()
    wild[0, 0] = 10.0
    expected = 10 * math.log10(1.0 / (81.0 / 64))
    assert psnr(gt, wild) == pytest.approx(expected, abs=1e-9)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(DataError, match="shape"):
        score_images(np.zeros((2, 8, 8)), np.zeros((2, 8, 9)))


def test_mean_ci_reference_values():
    # 1..5: mean 3, sd sqrt(2.5), half-width t(0.975, 4) * sd / sqrt(5) = 2.776445 * 0.707107 =
    # 1.963243.
    mean, sd, low, high = mean_ci([1, 2, 3, 4, 5])
    assert (mean, sd) == (pytest.approx(3.0), pytest.approx(math.sqrt(2.5)))
    assert (low, high) == (
        pytest.approx(3 - 1.9632431614775572),
        pytest.approx(3 + 1.9632431614775572),
    )


def test_mean_ci_of_one_value_has_no_interval():
    mean, sd, low, high = mean_ci([4.0])
    assert mean == 4.0 and all(math.isnan(v) for v in (sd, low, high))


def test_summarise_groups_cells():
    scores = pd.DataFrame(
        {
            "method": ["fbp"] * 3 + ["tv"] * 3,
            "views": [10] * 6,
            "psnr": [1.0, 2.0, 3.0, 10.0, 10.0, 10.0],
            "ssim": [0.1, 0.2, 0.3, 0.5, 0.5, 0.5],
        }
    )
    table = summarise_cells(scores, by=["method", "views"]).set_index("method")
    assert table.loc["fbp", "n"] == 3
    assert table.loc["fbp", "psnr_mean"] == pytest.approx(2.0)
    assert table.loc["fbp", "ssim_sd"] == pytest.approx(0.1)
    assert table.loc["tv", "psnr_ci_low"] == pytest.approx(10.0)
    assert table.loc["tv", "psnr_ci_high"] == pytest.approx(10.0)
