"""The chunked weighted k-NN at ImageNet size: time, peak memory, and the GEMM's share.

    python perf/knn.py                                  # ImageNet-1k size, 2,000 queries
    python perf/knn.py --queries 50000                  # all of them (CPU: ~15+ min)
    python perf/knn.py --train 50000 --dim 384 --queries 10000 --total-queries 10000

Synthetic class-clustered embeddings: ``--train`` x ``--dim`` training rows stored in fp16
(1,281,167 x 1,024 = 2.6 GB, ImageNet-1k's training set as a ViT-L embeds it), written in
chunks to a ``.npy`` file under ``--workdir`` (kept and reused) and memory-mapped, so neither
the generation nor the k-NN holds more than the file and the k-NN's blocks; ``--classes``
classes; ``--queries`` fp16 test rows. It runs ``fmeval.classify.knn.knn_predict`` (block
sizes from the memory at hand, as in a job) on the CPU, and on CUDA if present, and prints
the time, the peak RSS (the mapped training matrix counts in it once read) and peak GPU
memory, and the achieved TFLOP/s of the similarity GEMM (2 x train x queries x dim) as a
fraction of the physical limit, the fp32 GEMM peak measured in the same process. A run of
fewer queries than ``--total-queries`` (50,000) is extrapolated linearly; the memory figure
is at the full training set either way.
"""

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fmeval.classify.knn import default_budget, knn_accuracy, knn_predict, plan_blocks  # noqa: E402

KS = [10, 20, 100, 200]  # DINOv2's nb_knn
NOISE = 3.0  # per value, against centres of sd 1: some neighbours of another class


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(on: torch.device, fn, *args, **kwargs):
    """(result, wall seconds, process CPU seconds / threads) of one call.

    On a shared machine the CPU time is the steadier figure: per thread, the time the
    process had a core (the wall time also holds what the other processes took).
    """
    sync(on)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    sync(on)
    threads = 1 if on.type == "cuda" else torch.get_num_threads()
    return out, time.perf_counter() - wall, (time.process_time() - cpu) / threads


def gemm_peak(device: torch.device, size: int = 4096, repeat: int = 3) -> tuple[float, float]:
    """Best fp32 GEMM GFLOP/s of ``size`` x ``size`` matrices, by wall and by CPU time."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    torch.matmul(a, b)  # warm-up
    runs = [timed(device, torch.matmul, a, b)[1:] for _ in range(repeat)]
    return tuple(2 * size**3 / min(r[i] for r in runs) / 1e9 for i in (0, 1))


def embeddings(rng, centres: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """fp16 rows near their class centre (so the k-NN has something to find)."""
    noise = rng.standard_normal((len(labels), centres.shape[1]), dtype=np.float32)
    return (centres[labels] + NOISE * noise).astype(np.float16)


def training_matrix(path: Path, n: int, centres: np.ndarray, labels: np.ndarray, seed: int):
    """The (n, dim) fp16 training rows in ``path`` (written in chunks once), memory-mapped."""
    shape = (n, centres.shape[1])
    if path.exists():
        mapped = np.load(path, mmap_mode="r")
        if mapped.shape == shape and mapped.dtype == np.float16:
            return mapped
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with open(path, "wb") as fh:
        header = {"descr": "<f2", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(fh, header)
        for s in range(0, n, 65536):
            embeddings(rng, centres, labels[s : s + 65536]).tofile(fh)
    seconds = time.perf_counter() - start
    print(f"wrote {path} ({path.stat().st_size / 1e9:.1f} GB) in {seconds:.0f} s")
    return np.load(path, mmap_mode="r")


def run(device: torch.device, train, labels, test, test_labels, args, peak) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    ranked, wall, cpu = timed(
        device, knn_predict, train, labels, test, ks=KS, temperature=0.07,
        n_classes=args.classes, device=device, vote=args.vote,
    )  # fmt: skip
    n_train, dim = train.shape
    scale = args.total_queries / len(test)
    tflop = 2 * n_train * len(test) * dim / 1e12
    budget = default_budget(device)
    shape = dict(top_k=max(KS), n_classes=args.classes, vote=args.vote, budget=budget)
    _, q, t = plan_blocks(len(test), n_train, dim, **shape)
    _, q_all, t_all = plan_blocks(args.total_queries, n_train, dim, **shape)
    print(f"\n== {device}: {len(test):,} queries x {n_train:,} training rows x D={dim} (fp16)")
    print(
        f"blocks {q:,} x {t:,} ({q_all:,} x {t_all:,} at {args.total_queries:,} queries), "
        f"budget {budget / 2**30:.2f} GiB, vote {args.vote}"
    )
    top1 = knn_accuracy(ranked[20], test_labels, 20)[0]
    print(f"top-1 at k=20: {top1:.1f}% (chance {100 / args.classes:.1f}%)")
    for what, seconds, limit in (("wall", wall, peak[0]), ("CPU/thread", cpu, peak[1])):
        rate = tflop / seconds
        print(
            f"{what:>10}: {seconds:.1f} s measured, {seconds * scale / 60:.1f} min extrapolated "
            f"to {args.total_queries:,} queries; {rate:.3f} TFLOP/s = {1e3 * rate / limit:.0%} "
            f"of the fp32 GEMM peak ({limit / 1e3:.3f} TFLOP/s: "
            f"{tflop * scale * 1e3 / limit / 60:.1f} min for the {tflop * scale:.0f} TFLOP)"
        )
    memory = f"peak RSS {peak_rss_gb():.2f} GB (process, the mapped training matrix included)"
    if device.type == "cuda":
        memory += f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GB"
    print(memory)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=1_281_167)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=2000, help="queries run (default 2,000)")
    ap.add_argument("--total-queries", type=int, default=50_000, help="extrapolated to")
    ap.add_argument("--vote", choices=["dino", "dinov2"], default="dinov2")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--device", choices=["cpu", "cuda", "both"], default="both")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.classes, args.dim), dtype=np.float32)
    labels = rng.integers(0, args.classes, args.train)
    test_labels = rng.integers(0, args.classes, args.queries)
    test = embeddings(rng, centres, test_labels)
    path = args.workdir / f"knn_{args.train}x{args.dim}_c{args.classes}_n{NOISE:g}_s{args.seed}.npy"
    train = training_matrix(path, args.train, centres, labels, args.seed + 1)
    print(f"{args.threads} CPU thread(s); after the data: peak RSS {peak_rss_gb():.2f} GB")
    devices = []
    if args.device in ("cpu", "both"):
        devices.append(torch.device("cpu"))
    if args.device == "cuda" or (args.device == "both" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    for device in devices:
        peak = gemm_peak(device)
        print(f"{device} fp32 GEMM peak: {peak[0]:.0f} GFLOP/s (wall), {peak[1]:.0f} (CPU time)")
        run(device, train, labels, test, test_labels, args, peak)


if __name__ == "__main__":
    main()
