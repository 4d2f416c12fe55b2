"""Predict every frame's mask of every sequence, by propagation or the per-patch classifier."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from fmeval.errors import ConfigError, DataError
from fmeval.features.store import PatchFeatures, read_features
from fmeval.runtime import pick_device
from fmeval.video.classifier import PatchClassifier, object_fractions, train_index
from fmeval.video.masks import to_frame, to_frame_exact, to_grid, to_grid_exact, write_masks
from fmeval.video.methods import METHODS
from fmeval.video.propagation import one_hot, propagate
from fmeval.video.protocol import PROTOCOLS, VOID, Protocol
from fmeval.video.sequences import Frame, read_labels, read_video_manifest

log = logging.getLogger(__name__)


def without_void(labels: np.ndarray, void: int = VOID) -> np.ndarray:
    """The label map with void pixels (davis2017: index 255) as background."""
    labels = np.asarray(labels)
    return np.where(labels == void, 0, labels).astype(labels.dtype)


def object_ids(labels: np.ndarray, void: int = VOID) -> list[int]:
    """Background 0 and every object id of a label map (void left out), sorted."""
    return sorted({0, *np.unique(labels).tolist()} - {void})


def scored_objects(first: np.ndarray, void: int = VOID) -> list[int]:
    """The objects davis2017 scores: 1 .. the largest id of the first mask, void left out."""
    return list(range(1, int(without_void(first, void).max()) + 1))


def propagate_masks(
    features,
    first: np.ndarray,
    *,
    grid: tuple[int, int],
    patch_size: int,
    protocol: Protocol,
    device: torch.device,
) -> tuple[list[np.ndarray], list[int]]:
    """Every frame's (H, W) object ids propagated from the ``first`` mask, and the ids.

    ``features`` yields each frame's (P, D) patch features (row-major); void pixels of the
    first mask are background (davis2017), so void is never propagated as an object.
    """
    first = without_void(first, protocol.void_label)
    ids = object_ids(first, protocol.void_label)
    size = (first.shape[1], first.shape[0])
    exact = protocol.upsample == "dinov3"
    small = to_grid_exact(first, grid) if exact else to_grid(first, grid)
    soft = propagate(features, one_hot(small, ids), grid=grid, protocol=protocol, device=device)
    if exact:
        masks = [to_frame_exact(s, ids, grid=grid, size=size) for s in soft]
    else:
        masks = [to_frame(s, ids, grid=grid, patch_size=patch_size, size=size) for s in soft]
    masks[0] = first  # the given mask, as the protocol writes it
    return masks, ids


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


@dataclass(frozen=True)
class Clip:
    """One sequence as its predictors take it: features, frames, the first mask, the grid."""

    pf: PatchFeatures
    frames: list[Frame]
    first: np.ndarray  # the first frame's label map
    grid: tuple[int, int]
    patch_size: int

    def features(self, frame: Frame) -> np.ndarray:
        return frame_features(self.pf, frame)


Prediction = tuple[list[np.ndarray], list[int], int]  # masks, object ids, the given frame


def _propagate(clip: Clip, options: Mapping, device: torch.device) -> Prediction:
    """Masks propagated from the first frame's (the protocol's values, overrides included)."""
    protocol = Protocol.from_params(options) if options else PROTOCOLS["dino"]
    masks, ids = propagate_masks(
        (clip.features(f) for f in clip.frames),
        clip.first,
        grid=clip.grid,
        patch_size=clip.patch_size,
        protocol=protocol,
        device=device,
    )
    return masks, ids, 0


def _classify(clip: Clip, options: Mapping, device: torch.device) -> Prediction:
    """Masks of a per-patch classifier fitted on one annotated frame."""
    frames, grid, patch_size = clip.frames, clip.grid, clip.patch_size
    ids = object_ids(clip.first)
    size = (clip.first.shape[1], clip.first.shape[0])
    given = train_index(len(frames), options["train_frame"])
    if frames[given].mask is None:
        raise DataError(f"{frames[given].name} has no mask to train the classifier on")
    labels = without_void(read_labels(frames[given].mask))
    fractions = object_fractions(labels, ids[1:], grid=grid, patch_size=patch_size)
    clf = PatchClassifier(
        clip.features(frames[given]),
        fractions,
        c=options["c"],
        max_iter=options["max_iter"],
        device=device,
    )
    masks = [
        to_frame(
            clf.soft_labels(clip.features(f)),
            ids,
            grid=grid,
            patch_size=patch_size,
            size=size,
            normalise=False,
        )
        for f in frames
    ]
    return masks, ids, given


# Each method's predictor: (clip, options, device) -> (masks, object ids, index of the given
# frame). The keys are the records' (fmeval.video.methods; a test checks they are equal).
PREDICTORS = {"propagate": _propagate, "classifier": _classify}


def predict_sequence(
    pf: PatchFeatures,
    frames: list[Frame],
    *,
    method: str,
    options: Mapping,
    device: torch.device,
) -> tuple[np.ndarray, list[int], int]:
    """(T, H, W) predicted object ids, the object ids, and the index of the given frame."""
    if method not in PREDICTORS:
        raise ConfigError(f"unknown video method {method!r}; use one of {tuple(METHODS)}")
    grid, patch_size = sequence_grid(pf, frames), int(pf.meta["patch_size"])
    clip = Clip(pf, frames, read_labels(frames[0].mask), grid, patch_size)
    masks, ids, given = PREDICTORS[method](clip, options, device)
    return np.stack(masks), ids, given


def protocol_text(method: str, options: Mapping, res: int | None = None) -> str:
    """What the masks follow: "dino protocol[, temperature 0.5 instead of 0.1]", or not."""
    if METHODS[method].protocol:
        return Protocol.from_params(options).describe(res)
    return METHODS[method].text


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
    predicted, ids, given, objects = {}, {}, {}, {}
    for seq, frames in sequences.items():
        predicted[seq], ids[seq], given[seq] = predict_sequence(
            pf, frames, method=method, options=options, device=dev
        )
        objects[seq] = scored_objects(read_labels(frames[0].mask))
        log.info("%s: %d frames, objects %s (%s)", seq, len(frames), ids[seq][1:], method)
    meta = {
        "method": method,
        "options": dict(options),
        "protocol": protocol_text(method, options, pf.meta.get("res")),
        "ids": ids,
        "objects": objects,
        "given": given,
        **{k: pf.meta.get(k) for k in ("dataset", "model", "res", "weights", "random_init")},
    }
    write_masks(predicted, meta, masks)
