"""J and F against cases worked out by hand (see each test's comment for the arithmetic)."""

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, gaussian_filter
from skimage.morphology import disk

from fmeval.video.metrics import (
    boundary_f,
    boundary_map,
    boundary_tolerance,
    region_similarity,
    score_frame,
)


def square(shape, top, left, side):
    m = np.zeros(shape, dtype=bool)
    m[top : top + side, left : left + side] = True
    return m


def test_tolerance_is_ceil_of_diagonal_fraction():
    # 64x64: diagonal 90.5 px, 0.008 of it 0.72 -> 1 px; 100x100: 1.13 -> 2 px; 480x854: 7.8 -> 8 px
    assert boundary_tolerance((64, 64)) == 1
    assert boundary_tolerance((100, 100)) == 2
    assert boundary_tolerance((480, 854)) == 8
    assert boundary_tolerance((10, 10), bound_th=3) == 3


def test_boundary_of_a_square_is_the_outline_offset_towards_the_origin():
    # A 10x10 square at rows/cols 20..29: pixels differing from their right, lower or
    # lower-right neighbour form the outline of the 11x11 box from (19, 19) to (29, 29).
    b = boundary_map(square((64, 64), 20, 20, 10))
    expected = np.zeros((64, 64), dtype=bool)
    expected[19, 19:30] = expected[29, 19:30] = True
    expected[19:30, 19] = expected[19:30, 29] = True
    np.testing.assert_array_equal(b, expected)
    assert b.sum() == 40


def test_shifted_square():
    gt = square((64, 64), 20, 20, 10)
    pred = square((64, 64), 20, 23, 10)
    # overlap 10 x 7 = 70, union 200 - 70 = 130
    assert region_similarity(gt, pred) == pytest.approx(70 / 130)
    # tolerance 1 px (disk(1) = the cross). Of the predicted outline's 40 pixels, the top and
    # bottom rows match 9 of 11 each (cols up to one past the gt's right column), the left
    # column matches its 2 pixels next to the gt's top/bottom rows, the right column none:
    # precision 20/40; by symmetry recall 20/40, so F = 0.5.
    assert boundary_f(gt, pred) == pytest.approx(0.5)


def test_shift_within_tolerance_keeps_f_but_not_j():
    # 100x100: tolerance 2 px, so a 2-pixel shift matches every boundary pixel.
    gt = square((100, 100), 40, 40, 10)
    pred = square((100, 100), 40, 42, 10)
    assert boundary_f(gt, pred) == pytest.approx(1.0)
    assert region_similarity(gt, pred) == pytest.approx(80 / 120)


def test_one_pixel_border():
    # The prediction misses a one-pixel border of the 10x10 square: an 8x8 square inside.
    gt = square((64, 64), 20, 20, 10)
    pred = square((64, 64), 21, 21, 8)
    assert region_similarity(gt, pred) == pytest.approx(64 / 100)
    # Every predicted boundary pixel lies 1 px inside the gt outline (precision 1); of the gt
    # outline's 40 pixels only the 4 corners are sqrt(2) px away (recall 36/40).
    precision, recall = 1.0, 36 / 40
    assert boundary_f(gt, pred) == pytest.approx(2 * precision * recall / (precision + recall))


def test_empty_prediction_and_empty_both():
    gt = square((64, 64), 20, 20, 10)
    empty = np.zeros_like(gt)
    assert region_similarity(gt, empty) == 0.0
    assert boundary_f(gt, empty) == 0.0  # precision 1, recall 0
    assert boundary_f(empty, gt) == 0.0  # precision 0, recall 1
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f(empty, empty) == 1.0


def test_far_apart_squares_score_zero():
    gt = square((64, 64), 5, 5, 10)
    pred = square((64, 64), 40, 40, 10)
    assert region_similarity(gt, pred) == 0.0
    assert boundary_f(gt, pred) == 0.0


def test_score_frame_per_object():
    gt = np.zeros((64, 64), dtype=np.uint8)
    gt[square((64, 64), 20, 20, 10)] = 1
    gt[square((64, 64), 40, 40, 10)] = 2
    pred = gt.copy()
    pred[pred == 2] = 0  # object 2 missed
    rows = {r["object"]: r for r in score_frame(gt, pred, [1, 2])}
    assert rows[1]["J"] == rows[1]["F"] == 1.0
    assert rows[2]["J"] == rows[2]["F"] == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        region_similarity(np.zeros((4, 4)), np.zeros((4, 5)))


def reference_f(gt, pred, radius):
    """The DAVIS f_measure as written: dilate each boundary map by disk(radius), intersect."""
    gt_b, pred_b = boundary_map(gt), boundary_map(pred)
    if not gt_b.any() or not pred_b.any():
        return float(not gt_b.any() and not pred_b.any())
    gt_dil = binary_dilation(gt_b, structure=disk(radius).astype(bool))
    pred_dil = binary_dilation(pred_b, structure=disk(radius).astype(bool))
    precision = (pred_b & gt_dil).sum() / pred_b.sum()
    recall = (gt_b & pred_dil).sum() / gt_b.sum()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("seed", range(6))
def test_f_matches_the_disk_dilation(seed):
    rng = np.random.default_rng(seed)
    shape = (120, 200)  # tolerance ceil(0.008 * 233.2) = 2 px
    blobs = [gaussian_filter(rng.normal(size=shape), 6) > t for t in (0.0, 0.02)]
    gt, pred = blobs[0], np.roll(blobs[1], rng.integers(-5, 6, size=2), axis=(0, 1))
    for radius in (1, 2, 5):
        expected = reference_f(gt, pred, radius)
        assert boundary_f(gt, pred, bound_th=radius) == pytest.approx(expected)
    assert 0 < boundary_f(gt, pred) < 1
