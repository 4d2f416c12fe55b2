"""Both methods end to end on the synthetic videos, with pixel patches as the backbone."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image
from synthetic_video import PATCH, pixel_patches, write_davis

from fmeval.features.store import feature_column
from fmeval.io.tables import write_table
from fmeval.video.masks import read_masks
from fmeval.video.prediction import run_prediction
from fmeval.video.protocol import PROTOCOLS
from fmeval.video.scores import run_scoring
from fmeval.video.sequences import download_video, read_video_manifest

OPTIONS = {
    "propagate": PROTOCOLS["dino"].as_params(),
    "classifier": {"train_frame": "first", "c": 1.0, "max_iter": 100},
}


def write_pixel_features(manifest, path) -> None:
    """A feature file like extract_features writes, with raw pixel patches as features."""
    names, rows, cols, feats, grids = [], [], [], [], {}
    for frames in read_video_manifest(manifest).values():
        for f in frames:
            img = np.asarray(Image.open(f.image).convert("RGB")) / 255.0
            grid = (img.shape[0] // PATCH, img.shape[1] // PATCH)
            n = grid[0] * grid[1]
            r, c = np.divmod(np.arange(n), grid[1])
            names += [f.name] * n
            rows.append(r.astype(np.int16)), cols.append(c.astype(np.int16))
            feats.append(pixel_patches(img))
            grids[f.name] = list(grid)
    table = pa.table(
        {
            "image": pa.array(names).dictionary_encode(),
            "split": pa.array(["test"] * len(names)).dictionary_encode(),
            "row": np.concatenate(rows),
            "col": np.concatenate(cols),
            "fg_fraction": pa.array(np.full(len(names), np.nan, np.float32), type=pa.float32()),
            "feature": feature_column(np.concatenate(feats)),
        }
    )
    meta = {
        "dataset": "synth",
        "model": "pixels",
        "res": 96,
        "patch_size": PATCH,
        "grids": grids,
        "random_init": True,
        "weights": "none",
    }
    write_table(table, path, meta=meta)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("video")
    write_davis(tmp / "DAVIS")
    manifest = download_video(name="synth", source=str(tmp / "DAVIS"), out_dir=tmp / "ds")
    write_pixel_features(manifest, tmp / "features.parquet")
    return tmp, manifest


@pytest.mark.parametrize("method", ["propagate", "classifier"])
def test_both_objects_are_segmented(dataset, method):
    tmp, manifest = dataset
    out = tmp / method
    run_prediction(
        features=str(tmp / "features.parquet"),
        dataset_manifest=str(manifest),
        method=method,
        options=OPTIONS[method],
        device="cpu",
        masks=str(out / "masks.npz"),
    )
    masks, meta = read_masks(out / "masks.npz")
    assert meta["ids"] == {"disc": [0, 1], "pair": [0, 1, 2]} and meta["random_init"] is True
    assert masks["pair"].shape == (8, 96, 144) and masks["pair"].dtype == np.uint8
    labels = {"dataset": "synth", "model": "pixels", "res": 96, "method": method}
    summary = run_scoring(
        masks=str(out / "masks.npz"),
        dataset_manifest=str(manifest),
        labels=labels,
        metrics=str(out / "metrics.parquet"),
        summary=str(out / "summary.json"),
    )
    table = pd.read_parquet(out / "metrics.parquet")
    # one row per frame and object: 8 frames x 1 object + 8 frames x 2 objects
    assert len(table) == 8 + 16
    assert set(table.loc[table["sequence"] == "pair", "object"]) == {1, 2}
    assert (
        table.loc[table["scored"], "t"].between(1, 6).all()
    )  # first and last frames are not scored
    assert (table["method"] == method).all() and table["random_init"].all()
    assert summary["n_objects"] == 3
    assert summary["sequences"]["pair"]["J"] > 0.85, summary
    assert summary["J&F"] == pytest.approx((summary["J"] + summary["F"]) / 2)


def test_classifier_on_the_middle_frame(dataset):
    tmp, manifest = dataset
    out = tmp / "middle"
    options = {**OPTIONS["classifier"], "train_frame": "middle"}
    run_prediction(
        features=str(tmp / "features.parquet"),
        dataset_manifest=str(manifest),
        method="classifier",
        options=options,
        device="cpu",
        masks=str(out / "masks.npz"),
    )
    assert read_masks(out / "masks.npz")[1]["given"] == {"disc": 4, "pair": 4}
    labels = {"dataset": "synth", "model": "pixels", "res": 96, "method": "classifier"}
    run_scoring(
        masks=str(out / "masks.npz"),
        dataset_manifest=str(manifest),
        labels=labels,
        metrics=str(out / "metrics.parquet"),
        summary=str(out / "summary.json"),
    )
    table = pd.read_parquet(out / "metrics.parquet")
    given = table[table["given"]]
    assert set(given["t"]) == {4} and not given["scored"].any()
    assert set(table.loc[table["scored"], "t"]) == {1, 2, 3, 5, 6}


def test_an_override_is_named_in_every_output(dataset, monkeypatch):
    from fmeval.video import protocol

    monkeypatch.setattr(protocol, "FEATURES_FOLLOW_PROTOCOL", True)
    resolve = protocol.resolve

    tmp, manifest = dataset
    out = tmp / "override"
    options = resolve("dinov3", {"temperature": 0.5}).as_params()
    run_prediction(
        features=str(tmp / "features.parquet"),
        dataset_manifest=str(manifest),
        method="propagate",
        options=options,
        device="cpu",
        masks=str(out / "masks.npz"),
    )
    text = "dinov3 protocol, temperature 0.5 instead of 0.2, frames 96 px instead of 960"
    meta = read_masks(out / "masks.npz")[1]
    assert meta["protocol"] == text and meta["options"]["temperature"] == 0.5
    labels = {"dataset": "synth", "model": "pixels", "res": 96, "method": "propagate"}
    summary = run_scoring(
        masks=str(out / "masks.npz"),
        dataset_manifest=str(manifest),
        labels=labels,
        metrics=str(out / "metrics.parquet"),
        summary=str(out / "summary.json"),
    )
    assert summary["protocol"] == text
    assert (pd.read_parquet(out / "metrics.parquet")["protocol"] == text).all()
