"""Propagated masks of each protocol against its reference loop, on the same features.

``dino``: DINO's ``eval_video_tracking_davis`` from ../shared/reference/dino, run unchanged
(only ``.cuda()`` is made a no-op) on real JPEG frames and a palette first mask, with a
stand-in backbone whose ``get_intermediate_layers`` returns given tokens, one frame per call
in the loop's order; the masks it writes must equal fmeval's pixel for pixel.

``dinov3``: the notebook is not in ../shared, so fmeval's form is checked against an
independent, straightforward implementation of the notebook's description (float64,
one query patch at a time): softmax(cosine / 0.2) over the 5 most similar source patches
of the first frame and the last 7 inside a circle of radius 12 patches, probabilities
renormalised, first mask downsampled by nearest-exact, nearest upsampling to the frame,
min-max per channel, arg-max (its cells as in a copy of the notebook).
"""

import argparse
import math
from collections import deque

import numpy as np
import pytest
import torch
from PIL import Image

from fmeval.video.prediction import propagate_masks
from fmeval.video.protocol import PROTOCOLS
from unit.video.reference_code import dino_video

PATCH = 32  # DINO's loop resizes frames to 480 px high: a 15 x 26 grid at patch 32
GRID = (15, 26)
N_FRAMES = 11
DIM = 16
PALETTE = np.zeros((256, 3), dtype=np.uint8)
PALETTE[1], PALETTE[2], PALETTE[3] = (128, 0, 0), (0, 128, 0), (128, 128, 0)


def tokens(seed: int = 0) -> np.ndarray:
    """(T, P, D) patch tokens: a smooth random field per object region that drifts."""
    rng = np.random.default_rng(seed)
    rows, cols = GRID
    base = rng.normal(size=(rows, cols, DIM))
    for _ in range(2):  # smooth, so that neighbouring patches are alike
        base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3
    frames = [
        base + 0.3 * t / N_FRAMES + 0.25 * rng.normal(size=base.shape) for t in range(N_FRAMES)
    ]
    return (
        np.stack([np.roll(f, t // 3, axis=1) for t, f in enumerate(frames)])
        .reshape(N_FRAMES, rows * cols, DIM)
        .astype(np.float32)
    )


def first_mask(height: int, width: int) -> np.ndarray:
    """A palette label map with objects 1 and 3 (2 absent) over a background."""
    yy, xx = np.mgrid[:height, :width]
    lab = np.zeros((height, width), dtype=np.uint8)
    lab[(yy - height * 0.4) ** 2 + (xx - width * 0.3) ** 2 < (height * 0.2) ** 2] = 1
    lab[(yy > height * 0.55) & (xx > width * 0.6) & (xx < width * 0.85)] = 3
    return lab


class StandIn(torch.nn.Module):
    """A backbone whose get_intermediate_layers gives the next frame's tokens (and a CLS)."""

    def __init__(self, feats: np.ndarray):
        super().__init__()
        self.feats = torch.from_numpy(feats)
        self.calls = 0
        self.patch_embed = argparse.Namespace(patch_size=PATCH)

    def get_intermediate_layers(self, x, n=1):
        assert x.shape[-2:] == (GRID[0] * PATCH, GRID[1] * PATCH), x.shape
        out = torch.cat([torch.zeros(1, DIM), self.feats[self.calls]])[None]
        self.calls += 1
        return [out]


@pytest.fixture(scope="module")
def dino_masks(tmp_path_factory):
    """The masks DINO's loop writes for tokens() and first_mask() (and its inputs)."""
    ref = dino_video()
    tmp = tmp_path_factory.mktemp("dino")
    height, width = 240, 427  # DAVIS' aspect: 480 x 832 (26 x 64 wide) after read_frame
    video = tmp / "JPEGImages" / "seq"
    video.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for t in range(N_FRAMES):
        img = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
        Image.fromarray(img).save(video / f"{t:05d}.jpg")
    seg = Image.fromarray(first_mask(height, width), mode="P")
    seg.putpalette(PALETTE.ravel().tolist())
    seg.save(tmp / "00000.png")
    feats = tokens()
    args = argparse.Namespace(
        output_dir=str(tmp / "out"), n_last_frames=7, size_mask_neighborhood=12, topk=5,
        patch_size=PATCH,
    )  # fmt: skip
    mp = pytest.MonkeyPatch()
    mp.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)  # CPU only: .cuda() is a no-op
    mp.setattr(ref, "args", args, raising=False)  # restrict_neighborhood reads the global
    try:
        first_seg, seg_ori = ref.read_seg(str(tmp / "00000.png"), PATCH)
        frame_list = ref.read_frame_list(str(video))
        ref.eval_video_tracking_davis(
            args, StandIn(feats), frame_list, str(video), first_seg, seg_ori, PALETTE
        )
    finally:
        mp.undo()
    out = tmp / "out" / "seq"
    masks = [np.asarray(Image.open(out / f"{t:05d}.png")) for t in range(N_FRAMES)]
    return feats, np.asarray(seg_ori), np.stack(masks)


def test_dino_masks_equal_the_reference_loop(dino_masks):
    feats, first, expected = dino_masks
    got, ids = propagate_masks(
        iter(feats),
        first,
        grid=GRID,
        patch_size=PATCH,
        protocol=PROTOCOLS["dino"],
        device=torch.device("cpu"),
    )
    assert ids == [0, 1, 3]
    assert {int(v) for v in np.unique(expected[1:])} >= {0, 1, 3}  # the objects are tracked
    differing = int((np.stack(got) != expected).sum())
    assert differing == 0  # no float-rounding ties either: identical, pixel for pixel


def test_an_override_changes_the_masks(dino_masks):
    # the conformance above is not vacuous: another temperature gives other masks
    from dataclasses import replace

    feats, first, expected = dino_masks
    got, _ = propagate_masks(
        iter(feats),
        first,
        grid=GRID,
        patch_size=PATCH,
        protocol=replace(PROTOCOLS["dino"], temperature=0.7),
        device=torch.device("cpu"),
    )
    assert (np.stack(got) != expected).sum() > 0


# --- dinov3: against an independent implementation of the notebook's description -------------


def nearest_exact(labels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = labels.shape
    ys = np.minimum(np.floor((np.arange(rows) + 0.5) * h / rows).astype(int), h - 1)
    xs = np.minimum(np.floor((np.arange(cols) + 0.5) * w / cols).astype(int), w - 1)
    return labels[ys][:, xs]


def nearest(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """(C, rows, cols) -> (C, height, width): torch's legacy ``nearest`` (floor(i * in / out))."""
    c, rows, cols = maps.shape
    ys = np.minimum(np.floor(np.arange(height) * rows / height).astype(int), rows - 1)
    xs = np.minimum(np.floor(np.arange(width) * cols / width).astype(int), cols - 1)
    return maps[:, ys][:, :, xs]


def notebook_loop(feats, first, *, temperature=0.2, topk=5, context=7, radius=12):
    """The notebook's description, one query patch at a time, in float64."""
    rows, cols = GRID
    height, width = first.shape
    f = feats.astype(np.float64)
    f /= np.linalg.norm(f, axis=2, keepdims=True)
    ids = sorted(set(np.unique(first).tolist()) | {0})
    small = nearest_exact(first, rows, cols).reshape(-1)
    probs0 = np.stack([(small == k).astype(np.float64) for k in ids], 1)
    pos = [(i, j) for i in range(rows) for j in range(cols)]
    near = [
        [q for q, (a, b) in enumerate(pos) if math.hypot(a - i, b - j) <= radius] for (i, j) in pos
    ]
    recent = deque(maxlen=context)
    masks = [first]
    for t in range(1, len(f)):
        sources = [(f[0], probs0), *recent]
        probs = np.zeros_like(probs0)
        for q in range(rows * cols):
            sims = np.concatenate([src[near[q]] @ f[t, q] for src, _ in sources])
            labels = np.concatenate([lab[near[q]] for _, lab in sources])
            keep = sims >= np.sort(sims)[::-1][topk - 1]
            w = np.exp((sims[keep] - sims[keep].max()) / temperature)
            probs[q] = (w / w.sum()) @ labels[keep]
            probs[q] /= probs[q].sum()
        recent.append((f[t], probs))
        up = nearest(probs.T.reshape(len(ids), rows, cols), height, width)
        lo, hi = up.min(axis=(1, 2), keepdims=True), up.max(axis=(1, 2), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = np.nan_to_num((up - lo) / (hi - lo), nan=0.0)
        masks.append(np.asarray(ids, dtype=np.uint8)[up.argmax(0)])
    return np.stack(masks)


def test_dinov3_masks_equal_the_notebook_description():
    feats = tokens(seed=3)
    first = first_mask(125, 211)  # not whole multiples of the grid: the rounding rules matter
    expected = notebook_loop(feats, first)
    got, ids = propagate_masks(
        iter(feats),
        first,
        grid=GRID,
        patch_size=8,
        protocol=PROTOCOLS["dinov3"],
        device=torch.device("cpu"),
    )
    assert ids == [0, 1, 3]
    assert {int(v) for v in np.unique(expected[1:])} >= {0, 1, 3}
    differing = int((np.stack(got) != expected).sum())
    # float32 (fmeval) against float64 (here): only pixels where two channels tie to
    # rounding may differ; on these inputs there are none
    assert differing == 0


def test_void_in_the_first_mask_is_background():
    feats = tokens(seed=4)
    first = first_mask(120, 208)
    void = first.copy()
    void[:10] = 255  # a void band, as davis2017 marks it
    got, ids = propagate_masks(
        iter(feats),
        void,
        grid=GRID,
        patch_size=8,
        protocol=PROTOCOLS["dinov3"],
        device=torch.device("cpu"),
    )
    assert ids == [0, 1, 3]  # 255 is no object
    assert not any((m == 255).any() for m in got)
    masked = first.copy()
    masked[:10] = 0
    expected = notebook_loop(feats, masked)
    assert (np.stack(got) != expected).sum() == 0
