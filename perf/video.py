"""Seconds to propagate a 50-frame 480p sequence against seconds to extract its features.

The issue-15 speed check: label propagation (``fmeval.video.propagation``, the DINO
protocol (the `dino` preset: 7 last frames, neighbourhood 12, top-5, exp(sim / 0.1)), then
every frame's soft labels upsampled to 854x480) must cost less than embedding the frames
(``fmeval.features.extraction.extract_features``). Both on the same device and threads,
on the first 50 frames of ../shared/data/davis2016-video/blackswan, ViT-S/14 at 448 px
(32 x 61 patches per frame) with RANDOM weights, built as perf/extract_features.py builds it
(the official hub code in ../shared/hub/dinov2, else the fixture tests/fixtures/dinov2_hub):
random and pretrained weights cost the same to run.

    .venv/bin/python perf/video.py                       # CPU, 2 threads
    .venv/bin/python perf/video.py --res 224 --frames 20 --threads 1
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "perf"))

import torch  # noqa: E402
from extract_features import build_model  # noqa: E402

from fmeval.features.datasets import Item
from fmeval.features.extraction import extract_features
from fmeval.features.masks import MaskSpec
from fmeval.runtime import pick_device, set_threads
from fmeval.video.masks import to_frame, to_grid
from fmeval.video.prediction import object_ids
from fmeval.video.propagation import one_hot, propagate
from fmeval.video.sequences import find_frames, read_labels

DATA = REPO.parent / "shared" / "data" / "davis2016-video"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", default="blackswan")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--res", type=int, default=448)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    set_threads(args.threads)
    device = pick_device(args.device)
    frames = find_frames(
        DATA, resolution="480p", sequences=[args.sequence], max_frames=args.frames
    )[args.sequence]
    # as read_manifest reads a video manifest's (test) masks: greyscale or palette, "auto"
    items = [Item(f.name, "test", f.image, f.mask, MaskSpec("auto")) for f in frames]

    with tempfile.TemporaryDirectory() as tmp:
        spec, model = build_model(Path(tmp), "torchhub", "vits14")
        start = time.perf_counter()
        table, _, grids = extract_features(
            model, spec, items, res=args.res, batch_size=args.batch_size, device=device
        )
        extract_s = time.perf_counter() - start

    dim = table.schema.field("feature").type.list_size
    feats = table.column("feature").combine_chunks().values.to_numpy().reshape(len(frames), -1, dim)
    grid = tuple(grids[frames[0].name])
    first = read_labels(frames[0].mask)
    ids = object_ids(first)
    size = (first.shape[1], first.shape[0])
    start = time.perf_counter()
    soft = propagate(iter(feats), one_hot(to_grid(first, grid), ids), grid=grid, device=device)
    masks = [to_frame(s, ids, grid=grid, patch_size=spec.patch_size, size=size) for s in soft]
    if device.type == "cuda":
        torch.cuda.synchronize()
    propagate_s = time.perf_counter() - start
    assert len(masks) == len(frames) and masks[-1].shape == first.shape[:2]

    print(
        f"sequence {args.sequence}: {len(frames)} frames of {size[0]}x{size[1]}, ViT-S/14 "
        f"@{args.res} ({grid[0]}x{grid[1]} patches), device {device}, {args.threads} thread(s)"
    )
    print(f"extract features : {extract_s:8.2f} s  ({extract_s / len(frames):.3f} s/frame)")
    print(f"propagate labels : {propagate_s:8.2f} s  ({propagate_s / len(frames):.3f} s/frame)")
    print(
        f"propagation / extraction = {propagate_s / extract_s:.3f}"
        f" ({'cheaper' if propagate_s < extract_s else 'NOT cheaper'})"
    )


if __name__ == "__main__":
    main()
