"""Label maps between the frame and the patch grid, and the predicted-mask files.

Down: a frame's label map to the patch grid by nearest-neighbour resize (PIL, as DINO's
``read_seg``; torch's ``nearest-exact`` for the DINOv3 notebook). Up, DINO: soft labels
(P, C) on the grid are upsampled bilinearly by the patch size, each channel min-max
normalised (propagation) and arg-maxed, then resized with nearest neighbours to the
frame. Up, DINOv3 notebook: upsampled straight to the frame by torch's ``nearest``, min-max
per channel (a constant channel becomes 0), arg-maxed.
"""

import json
import os
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fmeval.io.atomic import atomic_path


def to_grid(labels: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A (H, W) label map resized (nearest) to the (rows, cols) patch grid."""
    rows, cols = grid
    return np.asarray(Image.fromarray(labels).resize((cols, rows), Image.Resampling.NEAREST))


def to_grid_exact(labels: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A (H, W) label map resized to the patch grid by torch's ``nearest-exact`` (DINOv3)."""
    t = torch.as_tensor(np.asarray(labels, dtype=np.float32))[None, None]
    return F.interpolate(t, grid, mode="nearest-exact")[0, 0].numpy().astype(np.uint8)


def to_frame_exact(
    soft: torch.Tensor, ids: list[int], *, grid: tuple[int, int], size: tuple[int, int]
) -> np.ndarray:
    """The DINOv3 notebook's (H, W) object-id map from (P, C) soft labels; ``size`` is (W, H)."""
    rows, cols = grid
    maps = soft.T.reshape(1, len(ids), rows, cols).float()
    maps = F.interpolate(maps, (size[1], size[0]), mode="nearest")
    vmin = maps.flatten(2, 3).min(dim=2).values[:, :, None, None]
    vmax = maps.flatten(2, 3).max(dim=2).values[:, :, None, None]
    maps = torch.nan_to_num((maps - vmin) / (vmax - vmin), nan=0)[0]
    return np.asarray(ids, dtype=np.uint8)[maps.argmax(0).numpy()]


def normalise_channels(soft: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each channel of (C, H, W) with a positive maximum (DINO's norm_mask)."""
    out = soft.clone()
    for k in range(out.shape[0]):
        ch = out[k]
        if ch.max() > 0:
            ch = ch - ch.min()
            out[k] = ch / ch.max() if ch.max() > 0 else ch
    return out


def to_frame(
    soft: torch.Tensor,
    ids: list[int],
    *,
    grid: tuple[int, int],
    patch_size: int,
    size: tuple[int, int],
    normalise: bool = True,
) -> np.ndarray:
    """The (H, W) uint8 object-id map of a frame from its (P, C) soft labels; ``size`` is (W, H)."""
    rows, cols = grid
    maps = soft.T.reshape(1, len(ids), rows, cols).float()
    maps = F.interpolate(maps, scale_factor=patch_size, mode="bilinear", align_corners=False)[0]
    if normalise:
        maps = normalise_channels(maps)
    best = maps.argmax(0).numpy()
    labels = np.asarray(ids, dtype=np.uint8)[best]
    return np.asarray(Image.fromarray(labels).resize(size, Image.Resampling.NEAREST))


def write_masks(masks: Mapping[str, np.ndarray], meta: Mapping, path: str | os.PathLike) -> None:
    """Predicted (T, H, W) uint8 label maps per sequence in one compressed ``.npz`` (no pickle)."""
    names = list(masks)
    arrays = {f"seq{i}": np.asarray(masks[n], dtype=np.uint8) for i, n in enumerate(names)}
    record = json.dumps({**meta, "sequences": names})
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, meta=np.str_(record), **arrays)


def read_masks(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """The predicted label maps per sequence and the metadata written with them."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return {n: z[f"seq{i}"] for i, n in enumerate(meta["sequences"])}, meta
