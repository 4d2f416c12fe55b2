"""Milliseconds per image that feature extraction spends around the forward pass, old vs new.

No model and no files: synthetic forward outputs and pixels of the shapes a real batch has
(ViT-S/14 at 448 on a DAVIS frame: 8 images, 384 x 32 x 56 tokens, 448 x 784 px), so the
figures do not depend on the forward pass and hold up on a loaded machine. Two steps,
each timed for the code before issue 14 (tests/reference_extraction.py) and the current one,
alternating, best and median of ``--repeat``:

- after the forward: patch tokens to a (B, rows, cols, D) numpy array, then the Arrow table
  of the batch (``patch_batch_table``);
- before it: resized 8-bit pixels to the normalised input batch on the device (one thread;
  extraction does this in the background, for the next batch).

    .venv/bin/python perf/extraction_overhead.py
    python perf/extraction_overhead.py --device cuda --batch 32 --dim 768 --grid 64 113
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from reference_extraction import old_patch_batch_table, old_to_normalised_tensor  # noqa: E402

from fmeval.features.datasets import Item
from fmeval.features.embedding import CPU_FORWARD_BATCH, tokens_to_host
from fmeval.features.images import normalise_into
from fmeval.features.plan import Prepared
from fmeval.features.tables import patch_batch_table


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def old_after(tokens, batch):
    patches = torch.cat(tokens).float().permute(0, 2, 3, 1).cpu().numpy()
    return old_patch_batch_table(batch, patches)


def new_after(tokens, batch):
    return patch_batch_table(batch, tokens_to_host(tokens))


def old_before(images, device):
    return torch.stack([old_to_normalised_tensor(img) for img in images]).to(device)


def new_before(pixels, device):
    shape = (len(pixels), 3, *pixels[0].shape[:2])
    x = torch.empty(shape, dtype=torch.float32, pin_memory=device.type == "cuda")
    for px, out in zip(pixels, x):
        normalise_into(px, out)
    return x.to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--grid", type=int, nargs=2, default=(32, 56), metavar=("ROWS", "COLS"))
    parser.add_argument("--patch-size", type=int, default=14)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    (rows, cols), b, d = args.grid, args.batch, args.dim
    rng = np.random.default_rng(0)

    # the forward's outputs as embed() gets them: one tensor per image on the CPU, one per batch
    # on a GPU; (b, D, rows, cols) contiguous, as DINOv2's get_intermediate_layers returns them
    step = CPU_FORWARD_BATCH if device.type == "cpu" else b
    tokens = [
        torch.randn(min(step, b - i), d, rows, cols, device=device).to(dtype)
        for i in range(0, b, step)
    ]
    batch = [
        Prepared(
            Item(f"frame-{i:05d}", "train" if i % 4 else "test", Path("none.jpg"), None),
            (854, 480),
            (rows, cols),
            rng.random((rows, cols)).astype(np.float32) if i % 3 else None,
        )
        for i in range(b)
    ]
    h, w = rows * args.patch_size, cols * args.patch_size
    images = [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB") for _ in range(b)
    ]
    pixels = [np.asarray(img) for img in images]
    assert old_after(tokens, batch).equals(new_after(tokens, batch))
    assert torch.equal(old_before(images, device), new_before(pixels, device))

    steps = {
        "after forward (tokens -> table)": (
            lambda: old_after(tokens, batch),
            lambda: new_after(tokens, batch),
        ),
        "before forward (pixels -> input)": (
            lambda: old_before(images, device),
            lambda: new_before(pixels, device),
        ),
    }
    print(
        f"batch {b} x {d} x {rows} x {cols} tokens ({args.precision}), {h}x{w} px, device "
        f"{device}{f' ({torch.cuda.get_device_name()})' if device.type == 'cuda' else ''}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads "
        f"({torch.get_num_interop_threads()} interop), load average {os.getloadavg()}"
    )
    for name, (old, new) in steps.items():
        times = {"old": [], "new": []}
        old(), new()  # warm-up
        for _ in range(args.repeat):
            for label, fn in (("old", old), ("new", new)):
                sync(device)
                start = time.perf_counter()
                fn()
                sync(device)
                times[label].append((time.perf_counter() - start) / b * 1e3)
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"{name:34s} old {best['old']:7.2f} ms/image (median {med['old']:7.2f}) | new "
            f"{best['new']:7.2f} ms/image (median {med['new']:7.2f}) | "
            f"{best['old'] / best['new']:5.1f}x less (median {med['old'] / med['new']:5.1f}x)"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
