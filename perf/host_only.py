"""Images/s of everything in an extraction but the forward pass: the host side (issue 27).

The real pipeline (fmeval.features.extraction.stream_features: planning, decoding and
resizing on ``--workers`` threads, batches ahead, tokens to Arrow tables, the writer thread,
zstd Parquet files) runs with a stand-in for the forward pass that returns tokens of the real
shapes (random values, so the files compress as real tokens do): ViT-B/14, D = 768, square
images through the ``classification`` transform, so 1,024 tokens at 448 px and 4,096 at 896.
The host does what it does beside a GPU: 8-bit pixels into the input batch (the normalisation
runs on the GPU), tokens back in the storage precision. Images: the DAVIS frames of
../shared/data/davis2016-fg, ``--copies`` times. It prints images/s and images per CPU-second
(process CPU time over all threads: images/s per core, whatever the number of workers).

    .venv/bin/python perf/extract_features.py --host-only --copies 12 --res 448 896
    .venv/bin/python perf/host_only.py --copies 12 --res 896 --workers 1 2 --storage fp32 fp16
"""

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "perf"))

import torch  # noqa: E402

from fmeval.features import embedding, extraction  # noqa: E402
from fmeval.features.loading import BatchLoader  # noqa: E402
from fmeval.features.models import ModelSpec  # noqa: E402
from fmeval.features.transforms import get_transform  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "davis2016-fg"
DIM = 768  # ViT-B
RING = 16  # distinct stand-in token maps per grid (zstd cannot match one against another)


def stand_in_forward(dim: int = DIM):
    """A ``fmeval.features.embedding.forward`` that returns tokens of the real shapes, one
    (1, D, rows, cols) map per image as the CPU path gets them, without computing anything."""
    pools: dict[tuple[int, int], torch.Tensor] = {}
    turn = itertools.count()

    def forward(model, spec, x, *, precision="fp32", tap=None, tick=None):
        rows, cols = x.shape[-2] // spec.patch_size, x.shape[-1] // spec.patch_size
        if (rows, cols) not in pools:
            g = torch.Generator().manual_seed(rows * 1000 + cols)
            pools[rows, cols] = torch.randn(RING, dim, rows, cols, generator=g)
        pool = pools[rows, cols]
        out = []
        for _ in range(len(x)):
            k = next(turn) % RING
            out.append((pool[k : k + 1], pool[k, :, 0, 0][None]))
        if tick is not None:
            tick(len(x))
        return out

    return forward


class HostSideLoader(BatchLoader):
    """The loader as beside a GPU: 8-bit pixels in (B, H, W, 3); :meth:`finish` hands the
    stand-in a channels-first view (the GPU would normalise it: no host work)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.on_host = False

    def finish(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


def spec_vitb14() -> ModelSpec:
    hub = REPO.parent / "shared" / "hub" / "dinov2"
    entry = {"backend": "torchhub", "name": "dinov2_vitb14", "repo": str(hub), "patch_size": 14}
    return ModelSpec.from_config("vitb14", {**entry, "weights": "random"})


def run(items, *, res: int, workers: int, storage: str, batch_size: int, tmp: Path) -> dict:
    """One extraction of ``items`` with the stand-in forward; wall and CPU seconds."""
    spec = spec_vitb14()
    plan = extraction.plan_extraction(
        items,
        spec=spec,
        res=res,
        batch_size=batch_size,
        transform=get_transform("classification"),
    )
    meta = {"dataset": "davis", "res": res, "storage": storage}
    wall, cpu = time.perf_counter(), time.process_time()
    extraction.stream_features(
        torch.nn.Identity(),
        spec,
        plan,
        meta,
        device=torch.device("cpu"),
        storage=storage,
        workers=workers,
        patches_out=tmp / "p.parquet",
        cls_out=tmp / "c.parquet",
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows, cols = plan.prepared[0].grid
    size = (tmp / "p.parquet").stat().st_size
    return {"wall": wall, "cpu": cpu, "tokens": rows * cols, "mb": size / 1e6}


def main(argv=None) -> None:
    from extract_features import load_items  # the DAVIS frames, --copies times

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--res", type=int, nargs="+", default=[448, 896])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--storage", nargs="+", default=["fp32"], choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--copies", type=int, default=12, help="17 frames each (12: 204)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    embedding.forward = stand_in_forward()  # the forward pass is the only stage replaced
    extraction.BatchLoader = HostSideLoader
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items = load_items(tmp, args.data, args.copies)
        print(
            f"host only (stand-in forward, ViT-B/14 tokens, D={DIM}): {len(items)} DAVIS images, "
            f"batch {args.batch_size}, {os.cpu_count()} CPU(s), load {os.getloadavg()}"
        )
        for res, storage, workers in itertools.product(args.res, args.storage, args.workers):
            run(items[:4], res=res, workers=workers, storage=storage, batch_size=4, tmp=tmp)
            r = run(
                items,
                res=res,
                workers=workers,
                storage=storage,
                batch_size=args.batch_size,
                tmp=tmp,
            )
            n = len(items)
            print(
                f"res {res} ({r['tokens']:,} x {DIM} tokens), {storage}, {workers} worker(s): "
                f"{n / r['wall']:7.1f} images/s, {n / r['cpu']:6.1f} images per CPU-second "
                f"({r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU), file {r['mb']:.0f} MB"
            )
        print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
