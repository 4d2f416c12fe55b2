"""Predict every frame's mask of every sequence, by propagation or the per-patch classifier."""

import logging
from collections.abc import Mapping

import numpy as np
import torch

from fmeval.errors import ConfigError, DataError
from fmeval.features.store import PatchFeatures, read_features
from fmeval.runtime import pick_device
from fmeval.video.classifier import PatchClassifier, object_fractions, train_index
from fmeval.video.masks import to_frame, to_grid, write_masks
from fmeval.video.plan import METHODS
from fmeval.video.propagation import one_hot, propagate
from fmeval.video.sequences import Frame, read_labels, read_video_manifest

log = logging.getLogger(__name__)


def object_ids(labels: np.ndarray) -> list[int]:
    """Background 0 and every object id of a label map, sorted."""
    return sorted({0, *np.unique(labels).tolist()})


def sequence_grid(pf: PatchFeatures, frames: list[Frame]) -> tuple[int, int]:
    grids = {pf.grid_of(f.name) for f in frames}
    if len(grids) != 1:
        raise DataError(
            f"the frames of {frames[0].name.split('/')[0]} have different patch grids {grids}"
        )
    return grids.pop()


def frame_features(pf: PatchFeatures, frame: Frame) -> np.ndarray:
    """(P, D) patch features of one frame in row-major grid order."""
    rows = pf.rows_of(frame.name)
    order = np.lexsort((pf.col[rows], pf.row[rows]))
    return pf.features[rows[order]]


def predict_sequence(
    pf: PatchFeatures,
    frames: list[Frame],
    *,
    method: str,
    options: Mapping,
    device: torch.device,
) -> tuple[np.ndarray, list[int], int]:
    """(T, H, W) predicted object ids, the object ids, and the index of the given frame."""
    grid, patch_size = sequence_grid(pf, frames), int(pf.meta["patch_size"])
    first = read_labels(frames[0].mask)
    ids = object_ids(first)
    size = (first.shape[1], first.shape[0])
    if method == "propagate":
        given = 0
        soft = propagate(
            (frame_features(pf, f) for f in frames),
            one_hot(to_grid(first, grid), ids),
            grid=grid,
            device=device,
            **options,
        )
        masks = [to_frame(s, ids, grid=grid, patch_size=patch_size, size=size) for s in soft]
        masks[0] = first  # the given mask, as the protocol writes it
    elif method == "classifier":
        given = train_index(len(frames), options["train_frame"])
        if frames[given].mask is None:
            raise DataError(f"{frames[given].name} has no mask to train the classifier on")
        labels = read_labels(frames[given].mask)
        fractions = object_fractions(labels, ids[1:], grid=grid, patch_size=patch_size)
        clf = PatchClassifier(
            frame_features(pf, frames[given]),
            fractions,
            c=options["c"],
            max_iter=options["max_iter"],
            device=device,
        )
        masks = [
            to_frame(
                clf.soft_labels(frame_features(pf, f)),
                ids,
                grid=grid,
                patch_size=patch_size,
                size=size,
                normalise=False,
            )
            for f in frames
        ]
    else:
        raise ConfigError(f"unknown video method {method!r}; use one of {METHODS}")
    return np.stack(masks), ids, given


def run_prediction(
    *,
    features: str,
    dataset_manifest: str,
    method: str,
    options: Mapping,
    device: str,
    masks: str,
) -> None:
    """Everything ``predict_video_masks`` does: every sequence's masks, in one ``.npz``."""
    pf = read_features(features)
    sequences = read_video_manifest(dataset_manifest)
    dev = pick_device(device)
    predicted, ids, given = {}, {}, {}
    for seq, frames in sequences.items():
        predicted[seq], ids[seq], given[seq] = predict_sequence(
            pf, frames, method=method, options=options, device=dev
        )
        log.info("%s: %d frames, objects %s (%s)", seq, len(frames), ids[seq][1:], method)
    meta = {
        "method": method,
        "options": dict(options),
        "ids": ids,
        "given": given,
        **{k: pf.meta.get(k) for k in ("dataset", "model", "res", "weights", "random_init")},
    }
    write_masks(predicted, meta, masks)
