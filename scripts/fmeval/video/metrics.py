"""DAVIS region similarity J (IoU) and boundary accuracy F, per frame and object.

As in the DAVIS evaluation (``davis2017/metrics.py``): J is 1 when both masks are empty;
F compares one-pixel boundary maps (``seg2bmap``) matched within a disk of radius
``ceil(0.008 * image diagonal)`` pixels (the evaluation dilates with ``skimage.morphology.disk``;
here a distance transform gives the same matches faster, tested against the dilation).
"""

import math

import numpy as np
from scipy.ndimage import distance_transform_edt

BOUND_TH = 0.008  # the DAVIS boundary tolerance, a fraction of the image diagonal


def region_similarity(gt: np.ndarray, pred: np.ndarray) -> float:
    """J: intersection over union of two binary masks (1 when both are empty)."""
    gt, pred = np.asarray(gt, dtype=bool), np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"mask shapes differ: annotation {gt.shape}, prediction {pred.shape}")
    union = np.count_nonzero(gt | pred)
    return 1.0 if union == 0 else np.count_nonzero(gt & pred) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundaries of a binary mask, offset half a pixel towards the origin.

    A pixel is on the boundary when it differs from its right, lower or lower-right
    neighbour (the last row and column compare only along themselves), as in ``seg2bmap``.
    """
    seg = np.asarray(mask, dtype=bool)
    right = np.zeros_like(seg)
    down = np.zeros_like(seg)
    diag = np.zeros_like(seg)
    right[:, :-1] = seg[:, 1:]
    down[:-1, :] = seg[1:, :]
    diag[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ right) | (seg ^ down) | (seg ^ diag)
    bmap[-1, :] = seg[-1, :] ^ right[-1, :]
    bmap[:, -1] = seg[:, -1] ^ down[:, -1]
    bmap[-1, -1] = False
    return bmap


def boundary_tolerance(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """The matching radius in pixels: ``bound_th`` when >= 1, else that fraction of the diagonal."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(*shape)))


def boundary_f(gt: np.ndarray, pred: np.ndarray, *, bound_th: float = BOUND_TH) -> float:
    """F: the boundary F-measure of ``pred`` against ``gt`` (both binary, same shape).

    A boundary pixel matches when a boundary pixel of the other mask lies within the
    tolerance disk, i.e. inside ``binary_dilation(other, disk(r))``. The distance to the
    other boundary comes from one Euclidean distance transform on the boundaries'
    bounding box (the same test, since squared pixel distances are whole numbers).
    """
    gt, pred = np.asarray(gt, dtype=bool), np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"mask shapes differ: annotation {gt.shape}, prediction {pred.shape}")
    gt_b, pred_b = boundary_map(gt), boundary_map(pred)
    n_gt, n_pred = int(gt_b.sum()), int(pred_b.sum())
    if n_gt == 0 and n_pred == 0:
        return 1.0
    if n_gt == 0 or n_pred == 0:
        return 0.0  # precision or recall is 0, the other 1
    radius = boundary_tolerance(gt.shape, bound_th)
    rows, cols = np.nonzero(gt_b | pred_b)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    gt_b, pred_b = gt_b[box], pred_b[box]
    precision = np.count_nonzero(distance_transform_edt(~gt_b)[pred_b] <= radius) / n_pred
    recall = np.count_nonzero(distance_transform_edt(~pred_b)[gt_b] <= radius) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def score_frame(
    gt: np.ndarray, pred: np.ndarray, objects: list[int], *, bound_th: float = BOUND_TH
) -> list[dict]:
    """J and F of each object id in one frame's label maps (``gt`` and ``pred``, integer ids)."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    return [
        {
            "object": int(k),
            "J": region_similarity(gt == k, pred == k),
            "F": boundary_f(gt == k, pred == k, bound_th=bound_th),
        }
        for k in objects
    ]
