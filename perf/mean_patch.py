"""Peak memory of the streamed mean patch token (fmeval.classify.embeddings) on a synthetic file.

    python perf/mean_patch.py [--images 2000] [--patches 256] [--dim 384]

Writes a patch-feature Parquet file as extract_features does (one row group, zstd), then, in a
fresh process, streams it and prints the rise of the peak resident memory against the size of
the feature matrix it averaged.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import numpy as np
import pyarrow as pa

from fmeval.classify.embeddings import mean_patch_tokens
from fmeval.features.store import feature_column
from fmeval.io.tables import write_table


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def write(path: str, images: int, patches: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    names = np.repeat([f"i{i}" for i in range(images)], patches).astype(object)
    feats = rng.standard_normal((images * patches, dim), dtype=np.float32)
    table = pa.table(
        {"image": pa.array(names).dictionary_encode(), "feature": feature_column(feats)}
    )
    write_table(table, path, meta={})


def measure(path: str, images: int) -> None:
    before = peak_mib()
    start = time.perf_counter()
    mean_patch_tokens(path, [f"i{i}" for i in range(images)])
    seconds = time.perf_counter() - start
    print(
        f"peak RSS before {before:.0f} MiB, after {peak_mib():.0f} MiB, increase "
        f"{peak_mib() - before:.0f} MiB; {seconds:.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--patches", type=int, default=256)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure(args.measure, args.images)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "patches.parquet")
        write(path, args.images, args.patches, args.dim)
        size = args.images * args.patches * args.dim * 4 / 2**20
        print(
            f"{args.images} images x {args.patches} patches x D={args.dim}: "
            f"feature matrix {size:.0f} MiB, file {Path(path).stat().st_size / 2**20:.0f} MiB"
        )
        subprocess.run(
            [sys.executable, __file__, "--images", str(args.images), "--measure", path],
            check=True,
        )


if __name__ == "__main__":
    main()
