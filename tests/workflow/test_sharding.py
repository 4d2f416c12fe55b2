"""Sharded extraction through Snakemake (issue 27, item 3 and "Bad input and limits").

One tiny synthetic dataset (6 images, tests/synthetic.py) at one resolution, in 2 shards:

1. the run makes one job per shard and the cross-validated probe; the shard set's rows are
   those of the unsharded extraction of the same manifest;
2. a seventh image re-extracts only the shard it falls into: that image corrupted after the
   download, its shard is the one job that runs and fails, in one line naming the image and
   the shard; it leaves no shard file, and the next plan (a dry run) redoes that shard only;
3. the dry run prints the features' size of a cell over 10 GB, and nothing for small ones.
"""

import json
import re

import numpy as np
import pytest
import synthetic
from conftest import load_test_config, run_snakemake, scheduled_jobs

from fmeval.features.shards import shard_of
from fmeval.features.store import read_cls, read_features

pytestmark = pytest.mark.integration

MODEL, RES, SHARDS = "dinov2_vits14", 56, 2
CELL = f"results/features/tiny/{MODEL}/{RES}.shards{SHARDS}"
TARGETS = [f"results/probe/tiny/{MODEL}/{RES}/probe.npz"]
NEW = ("golf", 64, 48)  # the added image


def shard_jobs(log: str) -> list[str]:
    """The extract_feature_shard jobs a run's log shows starting."""
    return re.findall(r"^(?:local)?rule extract_feature_shard:", log, re.M)


def tiny_config(entry: dict) -> dict:
    config = load_test_config()
    config["datasets"] = {"tiny": entry}
    config["resolutions"] = [RES]
    config["probe"]["cs"] = [1.0]
    config["batch_size"] = 2
    config["features"] = {"shards": SHARDS}
    return config


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharding")
    workdir = root / "work"
    config = tiny_config(synthetic.make_dataset(root / "a"))
    proc = run_snakemake(workdir, config, "--show-failed-logs", *TARGETS)  # a flag ends it
    return root, workdir, proc.stdout + proc.stderr


def test_one_job_per_shard_and_the_unsharded_rows(sharded):
    from fmeval.features.extraction import run_extraction

    root, workdir, log = sharded
    assert len(shard_jobs(log)) == SHARDS, log[-3000:]
    assert "rule extract_features:" not in log and "disk warning" not in log
    assert (workdir / TARGETS[0]).is_file()
    one = root / "one.parquet"
    run_extraction(
        dataset_manifest=str(workdir / "resources/datasets/tiny/manifest.json"),
        model_manifest=str(workdir / f"resources/models/{MODEL}.json"),
        dataset="tiny",
        res=RES,
        precision="fp32",
        batch_size=8,
        device="cpu",
        patches=str(one),
        cls=str(root / "one.cls.parquet"),
    )
    a, b = read_features(one), read_features(workdir / CELL / "patches")
    assert a.images == b.images
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.fg_fraction, b.fg_fraction)
    x, y = read_cls(root / "one.cls.parquet"), read_cls(workdir / CELL / "cls")
    assert x.images == y.images
    np.testing.assert_array_equal(x.cls, y.cls)


def test_an_added_image_reextracts_its_shard_only_and_a_corrupt_one_fails_alone(sharded):
    root, workdir, _ = sharded
    config = tiny_config(synthetic.make_dataset(root / "b", train=(*synthetic.TRAIN, NEW)))
    manifest = "resources/datasets/tiny/manifest.json"
    run_snakemake(workdir, config, "--show-failed-logs", manifest)  # the new archive's download
    changed = shard_of(NEW[0], SHARDS)
    other = workdir / CELL / "patches" / f"{1 - changed}.parquet"
    before = other.stat().st_mtime_ns
    image = next((workdir / "resources/datasets/tiny").rglob(f"{NEW[0]}.jpg"))
    image.write_bytes(b"\xff\xd8 a truncated jpeg")  # after the download checked it
    failed = run_snakemake(workdir, config, "--keep-going", *TARGETS, check=False)
    assert failed.returncode != 0
    ran = failed.stdout + failed.stderr
    assert len(shard_jobs(ran)) == 1, ran[-3000:]  # the new image's shard only
    assert f"shard={changed}" in ran and "rule extract_features:" not in ran
    log = (workdir / f"logs/features/tiny/{MODEL}/{RES}.shards{SHARDS}/{changed}.log").read_text()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1, log
    assert f"shard {changed} of {SHARDS}" in errors[0] and f"{NEW[0]}.jpg" in errors[0], errors
    leftovers = list((workdir / CELL).rglob(f"{changed}.*"))
    assert not leftovers, leftovers  # no partial shard file, no temporary file
    assert other.stat().st_mtime_ns == before  # the other shard was not redone
    proc = run_snakemake(workdir, config, "-n", *TARGETS)
    plan = scheduled_jobs(proc)
    assert plan.get("extract_feature_shard") == 1, (plan, proc.stdout[-3000:], proc.stderr[-3000:])


def test_dry_run_warns_of_features_over_10_gb_per_cell(tmp_path):
    """5,000 images (a fake manifest: the plan reads its count) of the test config's ViT-S/14:
    about 31 GB at 896 px, one line; 2 GB at 224 px, none."""
    config = load_test_config()
    config["resolutions"] = [224, 896]
    manifest = tmp_path / "resources/datasets/davis/manifest.json"
    manifest.parent.mkdir(parents=True)
    names = [{"name": f"i{k}", "image": f"{k}.jpg", "mask": None} for k in range(5000)]
    manifest.write_text(json.dumps({"train": names, "test": []}))
    text = (lambda p: p.stdout + p.stderr)(run_snakemake(tmp_path, config, "-n"))
    lines = [line for line in text.splitlines() if line.startswith("disk warning")]
    assert len(lines) == 1 and f"(davis, {MODEL}, 896)" in lines[0], lines
    assert "31.5 GB" in lines[0] and "lower the resolution" in lines[0], lines
