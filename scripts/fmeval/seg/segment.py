"""Test-image segmentation with the fitted probe: score map, mask, figure, held-out scores.

Held-out scores are at **patch resolution**, where the probe works: a patch is truly
foreground when its mask fraction (``fg_fraction``, the mask average-pooled to the
patch) is above 0.5. ``ap`` is ``average_precision_score`` of those labels against the
(filtered) score map; ``iou`` is |predicted & true| / |predicted | true| of the patch masks;
``chance_ap`` is the foreground share of the patches (the AP of a random score).
Each is NaN (null in JSON/CSV) when undefined: no mask, or one class only.
"""

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import medfilt2d
from sklearn.metrics import average_precision_score

from fmeval.errors import DataError
from fmeval.features.datasets import Item, read_manifest
from fmeval.features.images import load_rgb, resize_to_grid
from fmeval.features.store import PatchFeatures, read_image
from fmeval.io.tables import write_json
from fmeval.plots import save_png, title_lines
from fmeval.seg.fit import Probe, load_probe

log = logging.getLogger(__name__)

TRUE_FG = 0.5  # a patch is truly foreground when over half of it is masked


def find_test_item(manifest: str | os.PathLike, image: str) -> Item:
    """The test item called ``image`` in a dataset manifest."""
    items = {i.name: i for i in read_manifest(manifest) if i.split == "test"}
    if image not in items:
        raise DataError(
            f"test image {image!r} is not in {manifest} (it has {sorted(items)}); a test image "
            "named like a "
            "training image is renamed: give it a distinct `name` in datasets.<name>.test_images"
        )
    return items[image]


def test_image_names(manifest: str | os.PathLike) -> list[str]:
    """The names of a dataset's test images, in manifest order."""
    return [item.name for item in read_manifest(manifest) if item.split == "test"]


def cell_outputs(folder: str | os.PathLike, image: str, suffix: str) -> Path:
    """Where a per-cell rule writes one test image's output (``<folder>/<image><suffix>``)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"{image}{suffix}"


@dataclass(frozen=True)
class PatchImage:
    """One test image of a cell as its per-image figures start from it."""

    name: str
    x: np.ndarray  # (rows*cols, D) patch features in raster order
    fg_fraction: np.ndarray  # (rows, cols) mask share of each patch; NaN without a mask
    grid: tuple[int, int]
    meta: dict  # dataset, model, weights, random_init and res of the feature file
    shown: np.ndarray  # the image resized as the backbone saw it, (H, W, 3) uint8


def read_patch_image(features: str, dataset_manifest: str, image: str) -> PatchImage:
    """The features, grid and display image of the test image called ``image``."""
    feats = read_image(features, image)
    x, fg_fraction, grid = image_patches(feats, image)
    meta = {k: feats.meta.get(k) for k in ("dataset", "model", "weights", "random_init", "res")}
    item = find_test_item(dataset_manifest, image)
    shown = display_image(item, grid, int(feats.meta["patch_size"]))
    return PatchImage(image, x, fg_fraction, grid, meta, shown)


def each_test_image(
    run: Callable[[PatchImage, str], dict], *, features: str, dataset_manifest: str, folder: str
) -> list[dict]:
    """``run(image, png)`` for every test image of a dataset, in one job: ``run`` draws its
    figure into ``png`` (``<folder>/<image>.png``) and returns the record written to
    ``<folder>/<image>.json``."""
    records = []
    for name in test_image_names(dataset_manifest):
        png = str(cell_outputs(folder, name, ".png"))
        record = run(read_patch_image(features, dataset_manifest, name), png)
        write_json(record, cell_outputs(folder, name, ".json"))
        records.append(record)
    return records


def image_patches(
    features: PatchFeatures, image: str
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The (rows*cols, D) features in raster order, the fg fractions and the grid of one image."""
    if image not in features.images:
        raise DataError(f"image {image!r} is not in the feature file; rerun extract_features")
    idx = features.rows_of(image)
    rows, cols = features.grid_of(image)
    order = np.lexsort((features.col[idx], features.row[idx]))
    idx = idx[order]
    if len(idx) != rows * cols:
        raise DataError(
            f"image {image!r} has {len(idx)} patches in the feature file, not {rows}x{cols}"
        )
    return features.features[idx], features.fg_fraction[idx].reshape(rows, cols), (rows, cols)


def score_map(
    probe: Probe, x: np.ndarray, grid: tuple[int, int], *, median_filter: bool
) -> np.ndarray:
    """Foreground probability per patch, optionally 3x3 median-filtered (zero-padded, as the
    tutorial).
    """
    scores = probe.predict_proba(x).reshape(grid)
    return medfilt2d(scores, kernel_size=3) if median_filter else scores


def foreground_mask(scores: np.ndarray, *, threshold: float) -> np.ndarray:
    """Patches whose score is above ``threshold``."""
    return np.asarray(scores) > threshold


def held_out_scores(scores: np.ndarray, mask: np.ndarray, fg_fraction: np.ndarray) -> dict:
    """Patch-level AP and IoU against the true mask (see the module docstring)."""
    if np.isnan(fg_fraction).any():
        return {"ap": math.nan, "iou": math.nan, "n_true_fg": None}
    truth = fg_fraction > TRUE_FG
    ap = (
        average_precision_score(truth.ravel(), scores.ravel())
        if 0 < truth.sum() < truth.size
        else math.nan
    )
    union = (mask | truth).sum()
    iou = float((mask & truth).sum() / union) if union else math.nan
    return {"ap": float(ap), "iou": iou, "n_true_fg": int(truth.sum())}


def display_image(item: Item, grid: tuple[int, int], patch_size: int) -> np.ndarray:
    """The test image resized as the backbone saw it, (H, W, 3) uint8."""
    return np.asarray(resize_to_grid(load_rgb(item.image), grid, patch_size=patch_size))


def overlay(image: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` dimmed, with the patches both masks call foreground in green, the predicted
    only in red (false positives) and the ground-truth only in blue (missed); (H, W, 3) float.
    """
    h, w = image.shape[:2]
    scale = (h // truth.shape[0], w // truth.shape[1])
    up = [np.kron(m.astype(np.uint8), np.ones(scale, np.uint8)).astype(bool) for m in (truth, mask)]
    out = np.asarray(image, dtype=float) / 255 * 0.5
    for region, colour in (
        (up[0] & up[1], (0.1, 0.8, 0.1)),
        (up[1] & ~up[0], (0.9, 0.1, 0.1)),
        (up[0] & ~up[1], (0.1, 0.3, 1.0)),
    ):
        out[region] = 0.4 * out[region] + 0.6 * np.asarray(colour)
    return out


def triptych_panels(has_mask: bool) -> list[str]:
    """The panels of a test-image figure, left to right (recorded in its JSON for the report)."""
    if has_mask:
        return ["image", "ground truth", "foreground score", "predicted mask", "overlay"]
    return ["image", "foreground score", "predicted mask"]


def draw_triptych(
    image: np.ndarray,
    scores: np.ndarray,
    mask: np.ndarray,
    *,
    truth: np.ndarray | None,
    threshold: float,
    title: str,
    out: str | os.PathLike,
) -> None:
    """Image, ground-truth mask (where there is one), score map, predicted mask and an overlay
    of ground truth and prediction, side by side, as a PNG written atomically.
    """
    panels = triptych_panels(truth is not None)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 4.2))
    for ax, panel in zip(axes, panels):
        if panel == "image":
            ax.imshow(image)
        elif panel == "ground truth":
            ax.imshow(truth, vmin=0, vmax=1, cmap="gray")
            panel = "ground truth (patch > half masked)"
        elif panel == "foreground score":
            shown = ax.imshow(scores, vmin=0, vmax=1, cmap="viridis")
            fig.colorbar(shown, ax=ax, fraction=0.046)
        elif panel == "predicted mask":
            ax.imshow(mask, vmin=0, vmax=1, cmap="gray")
            panel = f"predicted mask (score > {threshold:g})"
        else:
            ax.imshow(overlay(image, truth, mask))
            panel = "overlay: green both, red predicted only,\nblue missed"
        ax.set_title(panel, fontsize="small")
        ax.axis("off")
    fig.suptitle(title, fontsize="medium")
    save_png(fig, out)


def segment_image(
    image: PatchImage, png: str, *, clf: Probe, median_filter: bool, threshold: float
) -> dict:
    """Everything ``segment_test_images`` does for one test image but write its record."""
    score_grid = score_map(clf, image.x, image.grid, median_filter=median_filter)
    mask = foreground_mask(score_grid, threshold=threshold)
    result = held_out_scores(score_grid, mask, image.fg_fraction)
    record = {
        **image.meta,
        "image": image.name,
        "C": clf.c,
        "median_filter": median_filter,
        "threshold": threshold,
        "has_mask": not bool(np.isnan(image.fg_fraction).any()),
        "n_patches": int(mask.size),
        "n_pred_fg": int(mask.sum()),
        "max_score": float(score_grid.max()),
        **result,
    }
    record["chance_ap"] = (
        record["n_true_fg"] / record["n_patches"] if record["has_mask"] else math.nan
    )
    record["panels"] = triptych_panels(record["has_mask"])
    metrics = (
        f"patch-level AP {record['ap']:.3f} (chance {record['chance_ap']:.3f}), "
        f"IoU {record['iou']:.3f}"
        if record["has_mask"]
        else "no mask: no held-out score"
    )
    if record["has_mask"] and not record["n_pred_fg"]:
        metrics += f" (no patch scored above {threshold:g})"
    title = title_lines(
        image.meta,
        image.name,
        [f"probe C={clf.c:g}, median filter {'on' if median_filter else 'off'}; {metrics}"],
    )
    truth = image.fg_fraction > TRUE_FG if record["has_mask"] else None
    draw_triptych(
        image.shown, score_grid, mask, truth=truth, threshold=threshold, title=title, out=png
    )
    log.info(
        "%s: %d of %d patches foreground; AP %s, IoU %s",
        image.name,
        mask.sum(),
        mask.size,
        record["ap"],
        record["iou"],
    )
    return record


def segment_test_images(
    *,
    features: str,
    probe: str,
    dataset_manifest: str,
    median_filter: bool,
    threshold: float,
    folder: str,
) -> list[dict]:
    """``segment_test_images`` for one (dataset, model, res): every test image of the dataset
    into ``folder`` (``<image>.png`` and ``<image>.json``), in one job."""
    clf = load_probe(probe)
    segment = partial(segment_image, clf=clf, median_filter=median_filter, threshold=threshold)
    return each_test_image(
        segment, features=features, dataset_manifest=dataset_manifest, folder=folder
    )
