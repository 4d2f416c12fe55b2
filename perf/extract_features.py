"""Images/s of our feature extraction against the tutorial's loop, on the same images.

Ours: ``fmeval.features.extract_features`` (images batched by resized shape,
``torch.inference_mode``, bf16 autocast on CUDA, masks pooled to patches, Arrow tables
built). The tutorial's loop (DINOv3 notebook "foreground segmentation"): one image at a
time, batch 1, each image resized with ``TF.resize`` and forwarded alone, its mask
quantised with the stride-p convolution. Same images (the DAVIS frames of
../shared/data/davis2016-fg, 15 train + 2 test), same model and resolution.

The model is ViT-S/14 with RANDOM weights (no download here): by default through the
local hub fixture (tests/fixtures/dinov2_hub, the `torchhub` backend), or timm's
``vit_small_patch14_dinov2.lvd142m`` with ``--backend timm``. Random and pretrained
weights cost the same to run.

    .venv/bin/python perf/extract_features.py            # CPU (or CUDA if present)
    .venv/bin/python perf/extract_features.py --device cpu --res 448 --repeat 2
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import torch  # noqa: E402
import torchvision.transforms.functional as TF  # noqa: E402
from PIL import Image  # noqa: E402

from fmeval.features.backbones import create_backbone, fetch_model, load_manifest, run_backbone
from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.features.extraction import extract_features, prepare
from fmeval.features.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_rgb,
    resize_to_grid,
    to_normalised_tensor,
)
from fmeval.features.models import ModelSpec
from fmeval.runtime import pick_device

DATA = REPO.parent / "shared" / "data" / "davis2016-fg"
OFFICIAL_HUB = REPO.parent / "shared" / "hub" / "dinov2"
MODELS = {
    "torchhub": {  # the official DINOv2 hub code (the real torchhub path), else the fixture
        "backend": "torchhub",
        "name": "dinov2_vits14",
        "repo": str(OFFICIAL_HUB if OFFICIAL_HUB.is_dir() else REPO / "tests/fixtures/dinov2_hub"),
    },
    "timm": {"backend": "timm", "name": "vit_small_patch14_dinov2.lvd142m"},
}


def load_items(tmp: Path):
    test = [
        {
            "name": stem,
            "image": str(DATA / "test" / f"{stem}.jpg"),
            "mask": str(DATA / "test" / f"{stem}.mask.png"),
        }
        for stem in ("camel-00060", "dog-00040")
    ]
    manifest = download_dataset(
        name="davis",
        images={"source": str(DATA / "foreground_segmentation_images.tar.gz")},
        labels={"source": str(DATA / "foreground_segmentation_labels.tar.gz")},
        test_images=test,
        out_dir=tmp / "davis",
    )
    return read_manifest(manifest)


def build_model(tmp: Path, backend: str):
    spec = ModelSpec.from_config(
        "vits14", {**MODELS[backend], "patch_size": 14, "weights": "random"}
    )
    fetch_model(spec, cache_dir=tmp, manifest=tmp / "vits14.json")
    spec, record = load_manifest(tmp / "vits14.json")
    return spec, create_backbone(spec, record)


def resize_transform(img: Image.Image, image_size: int, patch_size: int) -> torch.Tensor:
    """The notebook's resize_transform."""
    w, h = img.size
    h_patches = int(image_size / patch_size)
    w_patches = int((w * image_size) / (h * patch_size))
    return TF.to_tensor(TF.resize(img, (h_patches * patch_size, w_patches * patch_size)))


def tutorial_loop(model, spec, items, *, res: int, device: torch.device) -> None:
    """Batch 1, one image at a time, as the notebook does (plus the CLS token we also keep)."""
    p = spec.patch_size
    quant = torch.nn.Conv2d(1, 1, p, stride=p, bias=False)
    quant.weight.data.fill_(1.0 / (p * p))
    images = [Image.open(item.image) for item in items]
    labels = [Image.open(item.mask) if item.mask else None for item in items]
    xs, ys = [], []
    with (
        torch.inference_mode(),
        torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"),
    ):
        for image, label in zip(images, labels):
            if label is not None:
                mask = label.split()[-1]
                ys.append(quant(resize_transform(mask, res, p)).squeeze().view(-1).detach().cpu())
            x = resize_transform(image.convert("RGB"), res, p)
            x = TF.normalize(x, mean=IMAGENET_MEAN, std=IMAGENET_STD).unsqueeze(0).to(device)
            patches, cls = run_backbone(spec, model, x)
            dim = patches.shape[1]
            xs.append(patches.squeeze(0).view(dim, -1).permute(1, 0).float().cpu())
            cls.float().cpu()


def ours(model, spec, items, *, res: int, batch_size: int, device: torch.device) -> None:
    extract_features(model, spec, items, res=res, batch_size=batch_size, device=device)


def timed(fn, *args, **kwargs) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def where_time_goes(
    model, spec, items, *, res: int, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Seconds in each step of our extraction, measured separately."""
    out = {"grid + masks (prepare)": timed(prepare, items, res=res, patch_size=spec.patch_size)}
    prepared = prepare(items, res=res, patch_size=spec.patch_size)
    start = time.perf_counter()
    tensors = [
        to_normalised_tensor(
            resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=spec.patch_size)
        )
        for p in prepared
    ]
    out["decode + resize + normalise"] = time.perf_counter() - start
    x = torch.stack(tensors[:batch_size]).to(device)

    def forward():
        with (
            torch.inference_mode(),
            torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"),
        ):
            run_backbone(spec, model, x)

    out[f"forward of one batch of {len(x)}"] = timed(forward)
    return out


def gemm_peak(device: torch.device, size: int = 2048, repeat: int = 5) -> float:
    """Best fp32 GEMM GFLOP/s of ``size`` x ``size`` matrices on ``device`` (current threads)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = 0.0
    for _ in range(repeat):
        seconds = timed(torch.matmul, a, b)
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best


def gflop_per_image(model, spec, items, *, res: int, device: torch.device) -> float:
    """Forward FLOPs of one image at ``res`` (torch's FlopCounterMode), in GFLOP."""
    from torch.utils.flop_counter import FlopCounterMode

    p = prepare(items[:1], res=res, patch_size=spec.patch_size)[0]
    x = to_normalised_tensor(resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=14))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        run_backbone(spec, model, x[None].to(device))
    return counter.get_total_flops() / 1e9


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--res", type=int, default=448)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--backend", choices=sorted(MODELS), default="torchhub")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate the two this many times; report the best"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (0: all)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items = load_items(tmp)
        if args.limit:
            items = items[: args.limit]
        spec, model = build_model(tmp, args.backend)
        model = model.to(device)
        print(
            f"model: ViT-S/14 ({spec.name}, {spec.backend} backend, RANDOM init), res {args.res}, "
            f"{len(items)} DAVIS images, device {device}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, batch size {args.batch_size}"
        )
        # warm-up at the real shape for both (allocator, kernels, lazy init)
        tutorial_loop(model, spec, items[:1], res=args.res, device=device)
        ours_s, tut_s = [], []
        for _ in range(args.repeat):
            ours_s.append(
                timed(
                    ours,
                    model,
                    spec,
                    items,
                    res=args.res,
                    batch_size=args.batch_size,
                    device=device,
                )
            )
            tut_s.append(timed(tutorial_loop, model, spec, items, res=args.res, device=device))
        n = len(items)
        best_ours, best_tut = min(ours_s), min(tut_s)
        print(
            f"ours (batched by shape):   {n / best_ours:7.3f} images/s  ({best_ours:.1f} s; runs "
            f"{', '.join(f'{t:.1f}' for t in ours_s)} s)"
        )
        print(
            f"tutorial loop (batch 1):   {n / best_tut:7.3f} images/s  ({best_tut:.1f} s; runs "
            f"{', '.join(f'{t:.1f}' for t in tut_s)} s)"
        )
        print(f"ratio ours / tutorial:     {best_tut / best_ours:7.2f}x")
        gflop = gflop_per_image(model, spec, items, res=args.res, device=device)
        peak = gemm_peak(device)
        for name, best in (("ours", best_ours), ("tutorial", best_tut)):
            rate = gflop * n / best
            print(
                f"{name:9s} {rate:7.1f} GFLOP/s = {rate / peak:5.1%} of the measured fp32 GEMM "
                f"peak {peak:.1f} GFLOP/s ({gflop:.1f} GFLOP per image)"
            )
        print(f"peak memory (process RSS or CUDA allocated): {peak_memory_gb(device):.2f} GB")
        print(f"load average: {os.getloadavg()}")
        if args.repeat > 1:
            print(
                "median ratio:              "
                f"{statistics.median(tut_s) / statistics.median(ours_s):7.2f}x"
            )
        print("where our time goes (measured separately):")
        for step, seconds in where_time_goes(
            model, spec, items, res=args.res, batch_size=args.batch_size, device=device
        ).items():
            print(f"  {step:32s} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
