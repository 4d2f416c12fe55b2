"""The model inputs of each batch: decoded, resized and normalised by parallel workers,
batches ahead of the forward pass.

Each image is one task for a pool of threads (PIL and numpy release the GIL), so ``workers``
images decode at a time, across batches: up to ``depth`` batches are in flight while the
model embeds the current one. On the CPU a worker also normalises into the float32 batch
(the forward pass keeps the cores: one worker, one batch ahead). Beside a GPU the workers
write 8-bit pixels into a page-locked buffer that is copied to the device asynchronously,
and the normalisation runs there: a quarter of the bytes over the bus, and the same float32
operations in the same order, so the same bits as on the CPU.
"""

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import torch

from fmeval.features.families import input_norm
from fmeval.features.images import IMAGENET_MEAN, IMAGENET_STD, load_rgb, resize_to_grid
from fmeval.features.models import ModelSpec
from fmeval.features.plan import Prepared
from fmeval.features.transforms import Transform

DEPTH = 2  # batches decoded ahead of the forward pass (bounded memory: DEPTH + 1 batches)


def norm_of(spec: ModelSpec) -> tuple:
    """The (mean, std) input normalisation of ``spec``'s model (fmeval.features.families)."""
    return input_norm(spec.backend, spec.name)


def with_norm(transform: Transform, norm: tuple | None) -> Transform:
    """``transform`` normalising with the model's (mean, std) when the model's differs from
    ImageNet's (CLIP, SigLIP: issue 28); a model on ImageNet's constants keeps the
    transform's own (DINO's video protocol uses std 0.228 for red: issue 25)."""
    if norm is None or tuple(tuple(v) for v in norm) == (IMAGENET_MEAN, IMAGENET_STD):
        return transform
    mean, std = (tuple(v) for v in norm)
    return replace(transform, mean=mean, std=std)


def constants(transform: Transform | None, norm: tuple | None) -> tuple[tuple, tuple]:
    """The (mean, std) an image is normalised with: the model's, else the transform's."""
    if transform is not None:
        transform = with_norm(transform, norm)
        return tuple(transform.mean), tuple(transform.std)
    if norm is None:
        return IMAGENET_MEAN, IMAGENET_STD
    return tuple(tuple(v) for v in norm)


def pixels_of(p: Prepared, *, patch_size: int, transform: Transform | None, res: int):
    """(H, W, 3) 8-bit RGB of one image at its grid: decoded and resized (or transformed)."""
    if transform is None:
        return np.asarray(resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=patch_size))
    return transform.pixels(load_rgb(p.item.image), p.grid, res=res, patch_size=patch_size)


def normalise_(x: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    """(B, 3, H, W) (or (3, H, W)) float32 ``x`` holding 0..255 to ``(x / 255 - mean) / std``,
    in place: three exactly rounded float32 operations, so the same bits on any device.

    Every operand is a tensor on ``x``'s device: with a Python scalar, CUDA divides by
    multiplying with its reciprocal (ATen's div_true_kernel), which rounds differently.
    """

    def const(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=x.device).view(-1, 1, 1)

    x.div_(const([255.0]))
    x.sub_(const(mean))
    return x.div_(const(std))


class BatchLoader:
    """Fills the input tensor of a batch, one image per task (see the module's docstring).

    ``device``'s type picks the layout: ``cpu`` a normalised float32 (B, 3, H, W) tensor;
    anything else 8-bit (B, H, W, 3) pixels in pinned memory, finished by :meth:`finish`.
    """

    def __init__(
        self,
        *,
        patch_size: int,
        device: torch.device,
        transform: Transform | None = None,
        res: int = 0,
        norm: tuple | None = None,
    ) -> None:
        self.patch_size, self.transform, self.res = patch_size, transform, res
        self.mean, self.std = constants(transform, norm)
        self.on_host = device.type == "cpu"
        self.pin = device.type == "cuda"

    def allocate(self, batch: Sequence[Prepared]) -> torch.Tensor:
        rows, cols = batch[0].grid
        h, w = rows * self.patch_size, cols * self.patch_size
        if self.on_host:
            return torch.empty((len(batch), 3, h, w), dtype=torch.float32)
        return torch.empty((len(batch), h, w, 3), dtype=torch.uint8, pin_memory=self.pin)

    def load_into(self, x: torch.Tensor, k: int, p: Prepared) -> None:
        pixels = pixels_of(p, patch_size=self.patch_size, transform=self.transform, res=self.res)
        if not self.on_host:
            x[k].numpy()[...] = pixels
            return
        out = x[k].numpy()
        np.divide(pixels.transpose(2, 0, 1), np.float32(255.0), out=out, dtype=np.float32)
        np.subtract(out, np.asarray(self.mean, np.float32).reshape(3, 1, 1), out=out)
        np.divide(out, np.asarray(self.std, np.float32).reshape(3, 1, 1), out=out)

    def finish(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """The model input on ``device``: normalised pixels (copied asynchronously)."""
        if self.on_host:
            return x.to(device)
        x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float()
        return normalise_(x.contiguous(), self.mean, self.std)


def load_batch(
    batch: Sequence[Prepared],
    *,
    patch_size: int,
    transform: Transform | None = None,
    res: int = 0,
    norm: tuple | None = None,
    workers: int = 1,
) -> torch.Tensor:
    """The (B, 3, H, W) float32 CPU model input of a same-shape batch (``norm``: the model's
    (mean, std), default ImageNet's; ``transform``: as in fmeval.features.plan.prepare)."""
    loader = BatchLoader(
        patch_size=patch_size, device=torch.device("cpu"), transform=transform, res=res, norm=norm
    )
    return next(inputs_ahead([batch], loader, workers=workers))


def inputs_ahead(
    batches: Sequence[Sequence[Prepared]],
    loader: BatchLoader,
    *,
    workers: int = 1,
    depth: int = DEPTH,
) -> Iterator[torch.Tensor]:
    """Each batch's host tensor (:meth:`BatchLoader.allocate`, filled), in order, with up to
    ``depth`` batches loading ahead on ``workers`` threads.

    A decoding error surfaces when its batch is due; closing the iterator early (the consumer
    failed) cancels what has not started and waits for what has.
    """
    pending: deque[tuple[torch.Tensor, list[Future]]] = deque()
    todo = iter(batches)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as pool:
        try:
            while True:
                while len(pending) <= depth:
                    batch = next(todo, None)
                    if batch is None:
                        break
                    x = loader.allocate(batch)
                    jobs = [pool.submit(loader.load_into, x, k, p) for k, p in enumerate(batch)]
                    pending.append((x, jobs))
                if not pending:
                    return
                x, jobs = pending.popleft()
                for job in jobs:
                    job.result()
                yield x
        finally:
            for _, jobs in pending:
                for job in jobs:
                    job.cancel()
