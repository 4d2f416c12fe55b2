"""Scale benchmark (issue 13): wall time and peak RSS of each probe stage at real sizes.

Synthetic features in fmeval's own Parquet format (streamed row groups of 8 images, zstd),
N images x 1,800 patches (a 30 x 60 grid) x D, with an elliptical foreground of ~25% of
each image (soft rim, so some patches are left out as in-between), features = noise plus a
foreground direction. Stages, each in a fresh process (so its peak RSS is its own):
write, read (the probe's row-group reader), CV (`kfold` 10, and `loo` up to --max-loo
images) over C in {0.01, 0.1, 1}, final fit, and segmenting 10 test images (read one
image's rows, score, median filter, AP/IoU). Then the extraction of synthetic images with
the random ViT-S/14 (tests/fixtures/dinov2_hub) at 224, batch 8, streamed: its peak RSS
should not grow with the number of images.

    .venv/bin/python perf/scale.py --n 15 100 300 --dims 384 768 1024
    .venv/bin/python perf/scale.py --n 1000 --dims 768 --skip-extraction
    .venv/bin/python perf/scale.py --n 0 --extract 50 200          # extraction only

Peak RSS includes the interpreter and its imports (torch, sklearn): ``base`` is that
floor, measured in a process that only imports. Times are wall-clock; note the machine load
(each stage prints the 1-minute load average at its end, its CPU seconds, and its minor page
faults, which do not depend on the load). The CV and the fit print their solver passes (the
CV: summed over folds and C), seconds per pass, and microseconds per selected patch (constant
in N when the time is linear in N); the fit also its Hessians.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

GRID = (30, 60)
BATCH = 8
N_TEST = 10
CS = [0.01, 0.1, 1.0]


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30


def fg_fraction(rng, grid) -> "np.ndarray":  # noqa: F821
    import numpy as np

    rows, cols = grid
    yy, xx = np.mgrid[0:rows, 0:cols] + 0.5
    cy, cx = rng.uniform(0.35, 0.65) * rows, rng.uniform(0.35, 0.65) * cols
    ry, rx = rng.uniform(0.3, 0.45) * rows, rng.uniform(0.2, 0.35) * cols
    d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    return np.clip((1.1 - d) / 0.2, 0, 1).astype(np.float32)


def write(path: Path, n: int, dim: int) -> dict:
    import numpy as np

    from fmeval.features.datasets import Item
    from fmeval.features.plan import Plan, Prepared, batches
    from fmeval.features.tables import patch_batch_table
    from fmeval.features.writing import write_stream

    rng = np.random.default_rng(n * 10007 + dim)
    direction = rng.normal(0, 0.6 / np.sqrt(dim) * 8, dim).astype(np.float32)
    prepared = [
        Prepared(
            Item(
                f"im{i:05d}" if i < n else f"test{i - n:02d}",
                "train" if i < n else "test",
                Path("none.jpg"),
                Path("none.png"),
            ),
            (GRID[1] * 14, GRID[0] * 14),
            GRID,
            fg_fraction(rng, GRID),
        )
        for i in range(n + N_TEST)
    ]
    plan = Plan(prepared, batches(prepared, BATCH))

    def tables():
        for batch in plan.batches:
            feats = []
            for p in batch:
                x = rng.standard_normal((GRID[0] * GRID[1], dim), dtype=np.float32)
                x += p.fg.reshape(-1, 1) * direction + rng.normal(0, 0.3, dim).astype(np.float32)
                feats.append(x.reshape(*GRID, dim))
            yield (
                patch_batch_table(batch, np.stack(feats)),
                {p.item.name: np.zeros(dim, np.float32) for p in batch},
            )

    meta = {
        "dataset": "synthetic",
        "model": f"synthetic-d{dim}",
        "random_init": True,
        "res": GRID[0] * 14,
        "patch_size": 14,
        "grids": plan.grids,
    }
    rows = write_stream(tables(), plan, meta, patches_out=path, cls_out=path.with_suffix(".cls"))
    return {"rows": rows, "file_gb": path.stat().st_size / 2**30}


def load(path: Path):
    from fmeval.seg.probe import load_probe_data

    return load_probe_data(path, fg_threshold=0.99, bg_threshold=0.01)


def stage(name: str, path: Path, budget_mb: float | None) -> dict:
    import torch

    import fmeval.seg.cv  # noqa: F401 - imports are not part of the stage's time
    import fmeval.seg.fit  # noqa: F401
    import fmeval.seg.segment  # noqa: F401

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, faults0 = usage.ru_utime + usage.ru_stime, usage.ru_minflt
    start = time.perf_counter()
    if name == "write":
        n, dim = (int(v) for v in path.stem.split("x"))
        out = write(path, n, dim)
    elif name == "read":
        data = load(path)
        out = {"rows": len(data.y), "fg": float(data.y.mean())}
    elif name.startswith("cv-"):
        from fmeval.seg.cv import cross_validate
        from fmeval.seg.folds import assign_folds, memory_budget

        data = load(path)
        folds = assign_folds(data.images, cv=name[3:], k=10, seed=0)
        table = cross_validate(
            data, CS, max_iter=10000, folds=folds, budget_bytes=memory_budget(budget_mb)
        )
        passes = int(table["n_iter"].sum())
        out = {
            "rows": len(data.y),
            "folds": folds.k,
            "mean_ap": float(table["ap"].mean()),
            "passes": passes,
            "s_per_pass": (time.perf_counter() - start) / max(passes, 1),
            "us_per_row": (time.perf_counter() - start) / len(data.y) * 1e6,
            "converged": bool(table["converged"].all()),
        }
    elif name == "fit":
        from fmeval.seg.fit import fit_probe, save_probe
        from fmeval.seg.folds import memory_budget

        data = load(path)
        probe = fit_probe(data, 0.1, max_iter=10000, budget_bytes=memory_budget(budget_mb))
        save_probe(probe, path.with_suffix(".probe.npz"))
        passes = probe.meta["n_iter"]
        out = {
            "n_patches": probe.meta["n_patches"],
            "passes": passes,
            "hessians": probe.meta["n_hessian"],
            "s_per_pass": (time.perf_counter() - start) / max(passes, 1),
            "us_per_row": (time.perf_counter() - start) / probe.meta["n_patches"] * 1e6,
        }
    elif name == "segment":
        from fmeval.features.store import read_image
        from fmeval.seg.fit import load_probe
        from fmeval.seg.segment import foreground_mask, held_out_scores, image_patches, score_map

        probe = load_probe(path.with_suffix(".probe.npz"))
        aps = []
        for i in range(N_TEST):
            feats = read_image(path, f"test{i:02d}")
            x, fg, grid = image_patches(feats, f"test{i:02d}")
            scores = score_map(probe, x, grid, median_filter=True)
            aps.append(held_out_scores(scores, foreground_mask(scores, threshold=0.5), fg)["ap"])
        out = {"mean_test_ap": float(sum(aps) / len(aps))}
    elif name == "base":
        import sklearn  # noqa: F401
        import torch  # noqa: F401

        import fmeval.seg.cv  # noqa: F401
        import fmeval.seg.fit  # noqa: F401

        out = {}
    else:
        raise SystemExit(f"unknown stage {name}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": time.perf_counter() - start,
        "peak_gb": peak_gb(),
        **out,
        "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu0, 1),
        "page_faults": usage.ru_minflt - faults0,
        "load": round(os.getloadavg()[0], 1),
    }


def extract(n_images: int, work: Path) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from fmeval.features.backbones import create_backbone, fetch_model, load_manifest
    from fmeval.features.datasets import download_dataset, read_manifest
    from fmeval.features.extraction import plan_extraction, provenance, stream_features
    from fmeval.features.models import ModelSpec

    torch.set_num_threads(2)
    src = work / f"images{n_images}"
    (src / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n_images):
        arr = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        Image.fromarray(arr).save(src / f"im{i:04d}.jpg")
        mask = (fg_fraction(rng, (240, 320)) > 0.5).astype(np.uint8) * 255
        Image.fromarray(mask).save(src / "masks" / f"im{i:04d}.png")
    manifest = download_dataset(
        name="synth",
        images={"source": str(src), "pattern": "*.jpg"},
        labels={"source": str(src / "masks"), "kind": "binary"},
        test_images=[],
        out_dir=work / f"ds{n_images}",
    )
    entry = {
        "backend": "torchhub",
        "repo": str(REPO / "tests/fixtures/dinov2_hub"),
        "patch_size": 14,
        "weights": "random",
        "name": "dinov2_vits14",
    }
    spec = ModelSpec.from_config("vits14", entry)
    fetch_model(spec, cache_dir=work, manifest=work / "vits14.json")
    spec, record = load_manifest(work / "vits14.json")
    model = create_backbone(spec, record)
    plan = plan_extraction(read_manifest(manifest), spec=spec, res=224, batch_size=8)
    meta = provenance(spec, record, dataset="synth", res=224, grids=plan.grids, dim=None)
    start = time.perf_counter()
    rows = stream_features(
        model,
        spec,
        plan,
        meta,
        device=torch.device("cpu"),
        patches_out=work / f"f{n_images}.parquet",
        cls_out=work / f"f{n_images}.cls.parquet",
    )
    wall = time.perf_counter() - start
    return {"wall_s": wall, "peak_gb": peak_gb(), "rows": rows, "images_per_s": n_images / wall}


def child(args: list[str], env=None) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[15, 100, 300, 1000])
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 768, 1024])
    parser.add_argument("--max-loo", type=int, default=100, help="run loo up to this many images")
    parser.add_argument("--budget-mb", type=float, default=None, help="probe.memory_mb")
    parser.add_argument("--extract", type=int, nargs="*", default=[50, 200])
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads per stage (1: CPU seconds that a busy machine does not inflate)",
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        default=None,
        help="only these (write read cv-kfold cv-loo fit segment)",
    )
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "extract":
        print(json.dumps(extract(int(args.path.split(":")[0]), Path(args.path.split(":")[1]))))
        return
    if args.stage:
        print(json.dumps(stage(args.stage, Path(args.path), args.budget_mb)))
        return

    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MALLOC_MMAP_THRESHOLD_": "131072"}
    budget = ["--budget-mb", str(args.budget_mb)] if args.budget_mb else []
    print(
        f"load average at start: {os.getloadavg()}, {os.cpu_count()} CPUs, {threads} thread(s)",
        flush=True,
    )
    base = child(["--stage", "base", "--path", "-"], env)
    print(f"base (imports only): peak RSS {base['peak_gb']:.2f} GB", flush=True)
    print(f"{'N':>5} {'D':>5} {'stage':>9} {'wall s':>9} {'peak GB':>8}  details", flush=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in [n for n in args.n if n > 0]:
            for dim in args.dims:
                path = Path(tmp) / f"{n}x{dim}.parquet"
                stages = ["write", "read", "cv-kfold"]
                stages += ["cv-loo"] if n <= args.max_loo else []
                stages += ["fit", "segment"]
                stages = [st for st in stages if args.stages is None or st in args.stages]
                for name in stages:
                    res = child(["--stage", name, "--path", str(path), *budget], env)
                    info = {k: v for k, v in res.items() if k not in ("wall_s", "peak_gb")}
                    print(
                        f"{n:>5} {dim:>5} {name:>9} {res.get('wall_s', float('nan')):>9.1f} "
                        f"{res.get('peak_gb', float('nan')):>8.2f}  {info}",
                        flush=True,
                    )
                for leftover in Path(tmp).glob(f"{n}x{dim}*"):
                    leftover.unlink()
        if not args.skip_extraction:
            for n_images in args.extract:
                res = child(["--stage", "extract", "--path", f"{n_images}:{tmp}"], env)
                print(
                    f"extraction of {n_images} images (ViT-S/14 random, 224, batch 8): {res}",
                    flush=True,
                )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
