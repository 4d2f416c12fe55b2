"""Peak memory and time of the chunked weighted k-NN on synthetic embeddings.

    python perf/knn.py [--train 50000] [--test 10000] [--dim 384] [--threads 2]

Prints the process's peak resident memory before and after the k-NN (ru_maxrss), the
increase the k-NN caused, and the size the full (test x train) similarity matrix would have.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import numpy as np
import torch

from fmeval.classify.knn import CHUNK_BYTES, knn_predict


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=50_000)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk-mib", type=int, default=CHUNK_BYTES // 2**20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    train = rng.standard_normal((args.train, args.dim), dtype=np.float32)
    test = rng.standard_normal((args.test, args.dim), dtype=np.float32)
    labels = rng.integers(0, args.classes, args.train)
    before = peak_mib()
    start = time.perf_counter()
    knn_predict(
        train,
        labels,
        test,
        ks=[10, 20, 100, 200],
        temperature=0.07,
        n_classes=args.classes,
        chunk_bytes=args.chunk_mib * 2**20,
    )
    seconds = time.perf_counter() - start
    after = peak_mib()
    full = args.train * args.test * 4 / 2**20
    print(
        f"k-NN {args.test} test x {args.train} train, D={args.dim}, k in 10,20,100,200, "
        f"{args.threads} thread(s), chunk budget {args.chunk_mib} MiB"
    )
    print(
        f"inputs {(train.nbytes + test.nbytes) / 2**20:.0f} MiB; "
        f"peak RSS before {before:.0f} MiB, after {after:.0f} MiB, "
        f"increase {after - before:.0f} MiB; full similarity matrix would be {full:.0f} MiB"
    )
    print(f"time {seconds:.1f} s")


if __name__ == "__main__":
    main()
