"""Sharded extraction (issue 27): stable shards, the same rows as one file, a failing shard."""

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
import synthetic
from conftest import HUB_FIXTURE

from fmeval.classify.embeddings import mean_patch_tokens
from fmeval.errors import DataError
from fmeval.features.backbones import fetch_model
from fmeval.features.datasets import download_dataset
from fmeval.features.extraction import run_extraction
from fmeval.features.models import ModelSpec
from fmeval.features.shards import shard_members, shard_of
from fmeval.features.store import read_cls, read_features, read_image, read_split_rows

RES = 56
N_SHARDS = 3


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """The synthetic dataset's manifest, a random ViT-S/14's manifest, and the arguments."""
    tmp = tmp_path_factory.mktemp("shards")
    entry = synthetic.make_dataset(tmp / "src")
    manifest = download_dataset(name="synth", out_dir=tmp / "ds", **entry)
    spec = ModelSpec.from_config(
        "vits",
        {"backend": "torchhub", "repo": str(HUB_FIXTURE), "patch_size": 14, "weights": "random"}
        | {"name": "dinov2_vits14"},
    )
    fetch_model(spec, cache_dir=tmp, manifest=tmp / "vits.json")
    args = {
        "dataset_manifest": str(manifest),
        "model_manifest": str(tmp / "vits.json"),
        "dataset": "synth",
        "res": RES,
        "precision": "fp32",
        "batch_size": 2,
        "device": "cpu",
    }
    return tmp, args


@pytest.fixture(scope="module")
def extracted(cell):
    """The cell as one file and as a folder of shard files (patches, cls)."""
    from fmeval.features.shards import run_shard

    tmp, args = cell
    single = (tmp / "one.parquet", tmp / "one.cls.parquet")
    run_extraction(**args, patches=str(single[0]), cls=str(single[1]))
    folders = (tmp / "set" / "patches", tmp / "set" / "cls")
    for k in range(N_SHARDS):
        names = [r[0] for r in shard_members(args["dataset_manifest"], k, N_SHARDS)]
        if names:
            out = {"patches": str(folders[0] / f"{k}.parquet")}
            out["cls"] = str(folders[1] / f"{k}.cls.parquet")
            run_shard(shard=k, shards=N_SHARDS, images=names, **args, **out)
    return single, folders


def test_shard_of_an_image_depends_on_its_name_only():
    names = [f"img-{i:05d}" for i in range(400)]
    before = {n: shard_of(n, 4) for n in names}
    more = names[:200] + [f"new-{i}" for i in range(50)] + names[200:]
    assert {n: shard_of(n, 4) for n in more if n in before} == before
    counts = np.bincount(list(before.values()), minlength=4)
    assert counts.min() > 60, counts  # ~100 each: a hash spreads the images


def test_shards_hold_every_image_once(cell, extracted):
    _, args = cell
    _, (patches, _) = extracted
    members = [shard_members(args["dataset_manifest"], k, N_SHARDS) for k in range(N_SHARDS)]
    names = [r[0] for m in members for r in m]
    assert len(names) == len(set(names)) == 6
    assert len([m for m in members if m]) == len(list(patches.glob("*.parquet"))) >= 2


def test_shard_set_reads_as_the_single_file(extracted):
    (one, one_cls), (patches, cls) = extracted
    a, b = read_features(one), read_features(patches)
    assert a.images == b.images and a.splits == b.splits and a.meta["grids"] == b.meta["grids"]
    for field in ("features", "image_index", "row", "col"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    np.testing.assert_array_equal(a.fg_fraction, b.fg_fraction)
    x, y = read_cls(one_cls), read_cls(cls)
    assert (x.images, x.splits) == (y.images, y.splits)
    np.testing.assert_array_equal(x.cls, y.cls)
    np.testing.assert_array_equal(
        mean_patch_tokens(one, x.images), mean_patch_tokens(sorted(patches.iterdir()), x.images)
    )


@pytest.mark.parametrize("split", ["train", "test"])
def test_probe_rows_of_a_shard_set_are_the_single_files(extracted, split):
    (one, _), (patches, _) = extracted
    keep = lambda fg: ~(fg > 0.3) | (fg > 0.6)  # noqa: E731 - some rows of each image
    a, b = (read_split_rows(p, split=split, keep=keep) for p in (one, patches))
    assert (a.images, a.unmasked) == (b.images, b.unmasked)
    for field in ("features", "fg_fraction", "image_index"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    for image in a.images:
        np.testing.assert_array_equal(
            read_image(one, image).features, read_image(patches, image).features
        )


def test_shard_folder_is_one_parquet_dataset(extracted):
    (one, _), (patches, _) = extracted
    whole = pd.read_parquet(one)
    assert ds.dataset(patches).count_rows() == len(whole) == len(pd.read_parquet(patches))


def test_a_corrupt_image_names_image_and_shard_and_leaves_no_file(cell, tmp_path):
    from fmeval.features.shards import run_shard

    _, args = cell
    folder = tmp_path / "ds"
    shutil.copytree(args["dataset_manifest"].rsplit("/", 1)[0], folder)
    manifest = folder / "manifest.json"
    k = next(k for k in range(N_SHARDS) if shard_members(manifest, k, N_SHARDS))
    names = [r[0] for r in shard_members(manifest, k, N_SHARDS)]
    record = next(r for r in json.loads(manifest.read_text())["train"] if r["name"] in names)
    (folder / record["image"]).write_bytes(b"not a jpeg at all")
    out = tmp_path / "out"
    with pytest.raises(DataError) as err:
        run_shard(
            shard=k,
            shards=N_SHARDS,
            images=names,
            **{**args, "dataset_manifest": str(manifest)},
            patches=str(out / f"{k}.parquet"),
            cls=str(out / f"{k}.cls.parquet"),
        )
    message = str(err.value)
    assert "\n" not in message and f"shard {k} of {N_SHARDS}" in message, message
    assert record["image"].rsplit("/", 1)[-1] in message, message
    assert not out.exists() or not list(out.iterdir())


def test_a_shard_without_images_writes_files_without_rows(cell, extracted, tmp_path):
    from fmeval.features.shards import run_shard

    _, args = cell
    (one, one_cls), (patches, cls) = extracted
    n = 16
    k = next(k for k in range(n) if not shard_members(args["dataset_manifest"], k, n))
    out = {"patches": str(tmp_path / "p.parquet"), "cls": str(tmp_path / "c.cls.parquet")}
    run_shard(shard=k, shards=n, images=[], **args, **out)
    assert pd.read_parquet(out["patches"]).empty and pd.read_parquet(out["cls"]).empty
    with_empty = [out["patches"], *sorted(map(str, patches.iterdir()))]
    np.testing.assert_array_equal(read_features(one).features, read_features(with_empty).features)
    cls_set = read_cls([*sorted(map(str, cls.iterdir())), out["cls"]])
    assert cls_set.images == read_cls(one_cls).images
    assert ds.dataset(with_empty).count_rows() == len(pd.read_parquet(one))
