"""Images/s of our feature extraction against the tutorial's loop, on the same images.

Ours: ``fmeval.features.extract_features`` (images batched by resized shape,
``torch.inference_mode``, the precision asked for, masks pooled to patches, the next batch
loaded in a background thread, Arrow tables built; ``--no-prefetch-too`` also runs it
without the background loading). The tutorial's loop (DINOv3 notebook "foreground
segmentation"): one image at a time, batch 1, fp32, each image resized with ``TF.resize``
and forwarded alone, its mask quantised with the stride-p convolution. Same images (the
DAVIS frames of ../shared/data/davis2016-fg, 15 train + 2 test, ``--copies`` times), same
model and resolution.

The model is ViT-S/14 or ViT-B/14 (``--arch``) with RANDOM weights (no download here):
by default through the official DINOv2 hub code in ../shared/hub/dinov2 (the `torchhub`
backend), or timm's ``vit_{small,base}_patch14_dinov2.lvd142m`` with ``--backend timm``.
Random and pretrained weights cost the same to run. It prints images/s, GFLOP/s against
the measured GEMM peak of the same precision, and peak memory; ``--forward-reps`` also
times the forward pass alone on one batch. ``--host-only`` times everything but the forward
(a stand-in with the real token shapes; perf/host_only.py takes the other options).

    .venv/bin/python perf/extract_features.py            # CPU (or CUDA if present)
    .venv/bin/python perf/extract_features.py --device cpu --res 448 --repeat 2
    python perf/extract_features.py --device cuda --arch vitb14 --res 896 --batch-size 32 \
        --precisions bf16 fp32 --copies 4 --forward-reps 5
    .venv/bin/python perf/extract_features.py --host-only --res 448 896 --copies 12
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import torch  # noqa: E402
import torchvision.transforms.functional as TF  # noqa: E402
from PIL import Image  # noqa: E402

from fmeval.features.backbones import create_backbone, fetch_model, load_manifest, run_backbone
from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.features.embedding import tokens_to_host
from fmeval.features.extraction import extract_features
from fmeval.features.images import IMAGENET_MEAN, IMAGENET_STD
from fmeval.features.loading import load_batch
from fmeval.features.models import ModelSpec
from fmeval.features.plan import prepare
from fmeval.features.tables import patch_batch_table
from fmeval.runtime import PRECISIONS, autocast, pick_device

DATA = REPO.parent / "shared" / "data" / "davis2016-fg"
OFFICIAL_HUB = REPO.parent / "shared" / "hub" / "dinov2"
ARCHS = {  # arch: (torchhub entry point, timm name)
    "vits14": ("dinov2_vits14", "vit_small_patch14_dinov2.lvd142m"),
    "vitb14": ("dinov2_vitb14", "vit_base_patch14_dinov2.lvd142m"),
}


def model_config(backend: str, arch: str, hub: Path) -> dict:
    """The model entry: the official DINOv2 hub code (the real torchhub path), or timm."""
    hub_name, timm_name = ARCHS[arch]
    if backend == "timm":
        return {"backend": "timm", "name": timm_name}
    repo = hub if hub.is_dir() else REPO / "tests/fixtures/dinov2_hub"
    return {"backend": "torchhub", "name": hub_name, "repo": str(repo)}


def load_items(tmp: Path, data: Path = DATA, copies: int = 1):
    test = [
        {
            "name": stem,
            "image": str(data / "test" / f"{stem}.jpg"),
            "mask": str(data / "test" / f"{stem}.mask.png"),
        }
        for stem in ("camel-00060", "dog-00040")
    ]
    manifest = download_dataset(
        name="davis",
        images={"source": str(data / "foreground_segmentation_images.tar.gz")},
        labels={"source": str(data / "foreground_segmentation_labels.tar.gz")},
        test_images=test,
        out_dir=tmp / "davis",
    )
    items = read_manifest(manifest)
    # --copies: the same frames again under other names (a larger set for a GPU's batches)
    return [replace(it, name=f"{it.name}~{k}") if k else it for k in range(copies) for it in items]


def build_model(tmp: Path, backend: str, arch: str = "vits14", hub: Path = OFFICIAL_HUB):
    spec = ModelSpec.from_config(
        arch, {**model_config(backend, arch, hub), "patch_size": 14, "weights": "random"}
    )
    fetch_model(spec, cache_dir=tmp, manifest=tmp / f"{arch}.json")
    spec, record = load_manifest(tmp / f"{arch}.json")
    return spec, create_backbone(spec, record)


def resize_transform(img: Image.Image, image_size: int, patch_size: int) -> torch.Tensor:
    """The notebook's resize_transform."""
    w, h = img.size
    h_patches = int(image_size / patch_size)
    w_patches = int((w * image_size) / (h * patch_size))
    return TF.to_tensor(TF.resize(img, (h_patches * patch_size, w_patches * patch_size)))


def tutorial_loop(model, spec, items, *, res: int, device: torch.device) -> None:
    """Batch 1, one image at a time, in fp32 (the notebook's ``autocast(dtype=torch.float32)``),
    as the notebook does (plus the CLS token we also keep)."""
    p = spec.patch_size
    quant = torch.nn.Conv2d(1, 1, p, stride=p, bias=False)
    quant.weight.data.fill_(1.0 / (p * p))
    images = [Image.open(item.image) for item in items]
    labels = [Image.open(item.mask) if item.mask else None for item in items]
    xs, ys = [], []
    with torch.inference_mode():
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


def ours(
    model,
    spec,
    items,
    *,
    res: int,
    batch_size: int,
    device: torch.device,
    precision: str,
    prefetch: bool = True,
) -> None:
    extract_features(
        model,
        spec,
        items,
        res=res,
        batch_size=batch_size,
        device=device,
        precision=precision,
        prefetch=prefetch,
    )


CPU_SECONDS: dict[str, list[float]] = {}  # process CPU time of each run (all threads)


def timed_run(name: str, fn, *args, **kwargs) -> float:
    """Wall seconds of one run; its process CPU seconds go to ``CPU_SECONDS[name]``.

    On a shared machine the CPU time is the steadier figure (the wall time is what the other
    processes leave), though torch's threads waiting at a barrier count in it too.
    """
    start = time.process_time()
    seconds = timed(fn, *args, **kwargs)
    CPU_SECONDS.setdefault(name, []).append(time.process_time() - start)
    return seconds


def timed(fn, *args, **kwargs) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def where_time_goes(
    model, spec, items, *, res: int, batch_size: int, device: torch.device, precision: str
) -> dict[str, float]:
    """Seconds in each step of our extraction, measured separately."""
    out = {"grid + masks (prepare)": timed(prepare, items, res=res, patch_size=spec.patch_size)}
    prepared = prepare(items, res=res, patch_size=spec.patch_size)
    batch = [p for p in prepared if p.grid == prepared[0].grid][:batch_size]
    cuda = device.type == "cuda"
    for threads in sorted({1, 8 if cuda else 1}):
        out[f"load one batch of {len(batch)}, {threads} thread(s)"] = timed(
            load_batch, batch, patch_size=spec.patch_size, workers=threads
        )
    x = load_batch(batch, patch_size=spec.patch_size)
    out["its copy to the device"] = timed(x.to, device)
    x = x.to(device)
    tokens = []

    def forward():
        with torch.inference_mode(), autocast(precision, device):
            tokens.append(run_backbone(spec, model, x)[0])

    out[f"forward of one batch of {len(x)}"] = timed(forward)
    out["its tokens to host + table"] = timed(
        lambda: patch_batch_table(batch, tokens_to_host(tokens))
    )
    return out


def forward_rate(
    model, spec, *, res: int, batch_size: int, device: torch.device, precision: str, reps: int
) -> tuple[float, float]:
    """(images/s, peak GB) of the forward pass alone on a (batch_size, 3, res, res) batch."""
    x = torch.randn(batch_size, 3, res, res, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def forward():
        with torch.inference_mode(), autocast(precision, device):
            for _ in range(reps):
                run_backbone(spec, model, x)

    forward()  # warm-up
    seconds = timed(forward)
    return batch_size * reps / seconds, peak_memory_gb(device)


def gemm_peak(
    device: torch.device, size: int = 2048, repeat: int = 5, dtype: torch.dtype = torch.float32
) -> float:
    """Best GEMM GFLOP/s of ``size`` x ``size`` matrices of ``dtype`` on ``device``."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.matmul(a, b)  # warm-up
    best = 0.0
    for _ in range(repeat):
        seconds = timed(torch.matmul, a, b)
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best


def gflop_per_image(model, spec, *, size: tuple[int, int], device: torch.device) -> float:
    """Forward FLOPs of one (height, width) image (torch's FlopCounterMode), in GFLOP.

    torch's counter has no formula for the CPU attention kernel
    (``_scaled_dot_product_flash_attention_for_cpu``), so on a CPU it would leave out the
    attention products (~40% of ViT-S/14's FLOPs at 448x784); it gets the formula of the
    GPU kernels (``sdpa_flop_count``: QK^T and AV), so CPU and GPU figures count the same.
    """
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_attention(query, key, value, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query, key, value)  # (shapes: the counter passes them)

    cpu_sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    x = torch.randn(1, 3, *size, device=device)
    counting = FlopCounterMode(display=False, custom_mapping={cpu_sdpa: cpu_attention})
    with torch.inference_mode(), counting as counter:
        run_backbone(spec, model, x)
    return counter.get_total_flops() / 1e9


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    if "--host-only" in sys.argv:  # everything but the forward: perf/host_only.py
        import host_only

        return host_only.main([a for a in sys.argv[1:] if a != "--host-only"])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--res", type=int, default=448)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--backend", choices=["torchhub", "timm"], default="torchhub")
    parser.add_argument("--arch", choices=sorted(ARCHS), default="vits14")
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=sorted(PRECISIONS),
        default=["fp32"],
        help="ours runs once per precision (the tutorial loop is fp32, as the notebook)",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate the two this many times; report the best"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (0: all)")
    parser.add_argument("--copies", type=int, default=1, help="use the frames this many times")
    parser.add_argument("--data", type=Path, default=DATA, help="the davis2016-fg folder")
    parser.add_argument("--hub", type=Path, default=OFFICIAL_HUB, help="the DINOv2 hub code")
    parser.add_argument(
        "--forward-reps", type=int, default=0, help="also time N forwards of one batch alone"
    )
    parser.add_argument(
        "--no-prefetch-too",
        action="store_true",
        help="also run ours without decoding the next batch in the background",
    )
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items = load_items(tmp, args.data, args.copies)
        if args.limit:
            items = items[: args.limit]
        spec, model = build_model(tmp, args.backend, args.arch, args.hub)
        model = model.to(device)
        print(
            f"model: {args.arch} ({spec.name}, {spec.backend} backend, RANDOM init), res "
            f"{args.res}, {len(items)} DAVIS images, device {device}"
            f"{f' ({torch.cuda.get_device_name()})' if device.type == 'cuda' else ''}, torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads "
            f"({torch.get_num_interop_threads()} interop; the same for both), batch size "
            f"{args.batch_size}, load average {os.getloadavg()}"
        )
        # warm-up at the real shape for both (allocator, kernels, lazy init)
        tutorial_loop(model, spec, items[:1], res=args.res, device=device)
        for precision in args.precisions:
            ours(
                model,
                spec,
                items[:2],
                res=args.res,
                batch_size=2,
                device=device,
                precision=precision,
            )
        variants = {f"ours {p}": (p, True) for p in args.precisions}
        if args.no_prefetch_too:
            variants |= {f"ours {p} no-prefetch": (p, False) for p in args.precisions}
        runs = {name: [] for name in variants} | {"tutorial fp32": []}
        peaks = {name: 0.0 for name in runs}
        for _ in range(args.repeat):
            for name, (precision, prefetch) in variants.items():
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                runs[name].append(
                    timed_run(
                        name,
                        ours,
                        model,
                        spec,
                        items,
                        res=args.res,
                        batch_size=args.batch_size,
                        device=device,
                        precision=precision,
                        prefetch=prefetch,
                    )
                )
                peaks[name] = peak_memory_gb(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            runs["tutorial fp32"].append(
                timed_run(
                    "tutorial fp32", tutorial_loop, model, spec, items, res=args.res, device=device
                )
            )
            peaks["tutorial fp32"] = peak_memory_gb(device)
        n = len(items)
        best = {name: min(times) for name, times in runs.items()}
        tut = best["tutorial fp32"]
        grid = prepare(items[:1], res=args.res, patch_size=spec.patch_size)[0].grid
        size = (grid[0] * spec.patch_size, grid[1] * spec.patch_size)
        gflop = gflop_per_image(model, spec, size=size, device=device)
        square = gflop_per_image(model, spec, size=(args.res, args.res), device=device)
        peak = {p: gemm_peak(device, dtype=PRECISIONS[p]) for p in set(args.precisions) | {"fp32"}}
        for name, seconds in best.items():
            precision = name.split()[1]
            rate = gflop * n / seconds
            print(
                f"{name:25s} {n / seconds:8.2f} images/s ({seconds:.1f} s; runs "
                f"{', '.join(f'{t:.1f}' for t in runs[name])} s) | {tut / seconds:5.2f}x the "
                f"tutorial | {rate:8.1f} GFLOP/s = {rate / peak[precision]:5.1%} of the measured "
                f"{precision} GEMM peak {peak[precision]:.0f} GFLOP/s | peak memory "
                f"{peaks[name]:.2f} GB ({'CUDA allocated' if device.type == 'cuda' else 'RSS'})"
            )
        tut_cpu = CPU_SECONDS["tutorial fp32"]
        for name, cpu in CPU_SECONDS.items():
            median = statistics.median(tut_cpu) / statistics.median(cpu)
            print(
                f"{name:25s} process CPU time: best {min(cpu):.1f} s (runs "
                f"{', '.join(f'{t:.1f}' for t in cpu)} s) | {min(tut_cpu) / min(cpu):5.2f}x "
                f"the tutorial, median {median:5.2f}x"
            )
        print(f"GFLOP per image: {gflop:.1f} at {size[0]}x{size[1]} px, {square:.1f} square")
        if args.forward_reps:
            for precision in args.precisions:
                rate, mem = forward_rate(
                    model,
                    spec,
                    res=args.res,
                    batch_size=args.batch_size,
                    device=device,
                    precision=precision,
                    reps=args.forward_reps,
                )
                flops = rate * square
                print(
                    f"forward alone, {precision}, batch {args.batch_size} at {args.res}x"
                    f"{args.res}: {rate:8.2f} images/s, {flops / 1e3:7.1f} TFLOP/s = "
                    f"{flops / peak[precision]:5.1%} of the {precision} GEMM peak, peak memory "
                    f"{mem:.2f} GB"
                )
        print(f"load average: {os.getloadavg()}")
        if args.repeat > 1:
            for name in variants:
                ratio = statistics.median(runs["tutorial fp32"]) / statistics.median(runs[name])
                print(f"median ratio {name} / tutorial: {ratio:7.2f}x")
        print("where our time goes (measured separately):")
        for step, seconds in where_time_goes(
            model,
            spec,
            items,
            res=args.res,
            batch_size=args.batch_size,
            device=device,
            precision=args.precisions[0],
        ).items():
            print(f"  {step:32s} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
