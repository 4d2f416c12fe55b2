"""Sharded extraction (issue 27): what splitting a cell into shards costs, on any machine.

Extracts one synthetic dataset (tests/synthetic.py photos, random ViT-S/14 from the test hub
fixture, CPU) once as one file and once as ``--shards`` shard jobs run one after the other
(each builds its model, as a Slurm job would), then reads the probe's rows and the CLS tokens
from both. Prints the wall times and the overhead per shard; the rows are checked equal.

    PYTHONPATH=scripts:tests python perf/shards.py --images 48 --shards 4 --res 224
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

import synthetic  # noqa: E402
from conftest import HUB_FIXTURE  # noqa: E402

from fmeval.features.backbones import fetch_model  # noqa: E402
from fmeval.features.datasets import download_dataset  # noqa: E402
from fmeval.features.extraction import run_extraction  # noqa: E402
from fmeval.features.models import ModelSpec  # noqa: E402
from fmeval.features.shards import run_shard, shard_members  # noqa: E402
from fmeval.features.store import read_cls, read_split_rows  # noqa: E402
from fmeval.runtime import set_threads  # noqa: E402


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--res", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="perf-shards-"))
    sizes = [(64, 48), (80, 48), (48, 64)]
    train = [(f"img{i:04d}", *sizes[i % 3]) for i in range(args.images)]
    entry = synthetic.make_dataset(tmp / "src", train=train, test=())
    manifest = str(download_dataset(name="perf", out_dir=tmp / "ds", **entry))
    spec = ModelSpec.from_config(
        "vits",
        {"backend": "torchhub", "repo": str(HUB_FIXTURE), "patch_size": 14}
        | {"weights": "random", "name": "dinov2_vits14"},
    )
    fetch_model(spec, cache_dir=tmp, manifest=tmp / "vits.json")
    cell = {
        "dataset_manifest": manifest,
        "model_manifest": str(tmp / "vits.json"),
        "dataset": "perf",
        "res": args.res,
        "precision": "fp32",
        "batch_size": 8,
        "device": "cpu",
    }
    one = timed(
        run_extraction, **cell, patches=str(tmp / "one.parquet"), cls=str(tmp / "one.cls.parquet")
    )
    times = []
    for k in range(args.shards):
        names = [r[0] for r in shard_members(manifest, k, args.shards)]
        out = {"patches": str(tmp / "p" / f"{k}.parquet")}
        out["cls"] = str(tmp / "c" / f"{k}.cls.parquet")
        times.append(timed(run_shard, shard=k, shards=args.shards, images=names, **cell, **out))
    keep = lambda fg: np.ones(len(fg), bool)  # noqa: E731 - every row
    read = {}
    for name, patches, cls in (
        ("file", tmp / "one.parquet", tmp / "one.cls.parquet"),
        ("shard set", tmp / "p", tmp / "c"),
    ):
        start = time.perf_counter()
        rows = read_split_rows(patches, split="train", keep=keep)
        tokens = read_cls(cls)
        read[name] = (time.perf_counter() - start, rows, tokens)
    np.testing.assert_array_equal(read["file"][1].features, read["shard set"][1].features)
    assert read["file"][2].images == read["shard set"][2].images
    n_rows = len(read["file"][1].features)
    print(f"{args.images} images at {args.res} px, random ViT-S/14, CPU, {args.threads} threads")
    print(f"one file:            {one:7.2f} s ({args.images / one:.2f} images/s)")
    print(
        f"{args.shards} shards in turn:    {sum(times):7.2f} s  (per shard: "
        + ", ".join(f"{t:.2f}" for t in times)
        + ")"
    )
    print(
        f"overhead per shard:  {(sum(times) - one) / args.shards:7.2f} s "
        "(model build, manifest; on a cluster the shards run at once)"
    )
    for name, (seconds, _, _) in read.items():
        print(f"read {n_rows:,} rows + CLS from the {name}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
