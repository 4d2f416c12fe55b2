"""Patch and CLS feature extraction, batched over images that share a resized shape."""

import logging
import os
import platform
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image

from fmeval.features.backbones import run_backbone
from fmeval.features.datasets import Item
from fmeval.features.families import family_of, input_norm, model_facts
from fmeval.features.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_rgb,
    normalise_into,
    oriented_size,
    patch_fractions,
    patch_grid,
    resize_to_grid,
)
from fmeval.features.masks import read_mask
from fmeval.features.models import ModelSpec
from fmeval.features.tables import cls_table_of, patch_batch_table
from fmeval.features.taps import DEFAULT_TAP, Tap, parse_tap, run_taps
from fmeval.features.transforms import DEFAULT_TRANSFORM, Transform, get_transform, normalise
from fmeval.io.atomic import atomic_path
from fmeval.io.tables import encode_metadata, write_table
from fmeval.runtime import autocast, pick_device

log = logging.getLogger(__name__)

CPU_FORWARD_BATCH = 1  # images per forward pass on CPU (batch_size still groups the I/O)
DECODE_THREADS = 8  # at most this many images decoded at a time when the model is on a GPU


def norm_of(spec: ModelSpec) -> tuple:
    """The (mean, std) input normalisation of ``spec``'s model (fmeval.features.families)."""
    return input_norm(spec.backend, spec.name)


def has_cls_embedding(spec: ModelSpec) -> bool:
    """Whether ``spec``'s image embedding is its CLS token (else the family's pooling)."""
    family = family_of(spec.backend, spec.name)
    return family is None or family.embedding == "cls"


def _with_norm(transform: Transform, norm: tuple | None) -> Transform:
    """``transform`` normalising with the model's (mean, std) when the model's differs from
    ImageNet's (CLIP, SigLIP: issue 28); a model on ImageNet's constants keeps the
    transform's own (DINO's video protocol uses std 0.228 for red: issue 25)."""
    if norm is None or tuple(tuple(v) for v in norm) == (IMAGENET_MEAN, IMAGENET_STD):
        return transform
    mean, std = (tuple(v) for v in norm)
    return replace(transform, mean=mean, std=std)


@dataclass
class Prepared:
    item: Item
    size: tuple[int, int]  # original (width, height)
    grid: tuple[int, int]
    fg: np.ndarray | None


def prepare(
    items: Sequence[Item], *, res: int, patch_size: int, transform: Transform | None = None
) -> list[Prepared]:
    """Grid shape and per-patch foreground fraction of each item.

    Image sizes come from the file headers (EXIF orientation included), so each
    image's pixels are decoded once, in :func:`load_batch`; only the small masks are read here.
    ``transform`` (fmeval.features.transforms; None: Tutorial 5's resize) sets the geometry.
    """
    out = []
    for item in items:
        size = oriented_size(item.image)
        name = f"image {item.name} ({item.image})"
        if transform is None:
            grid = patch_grid(*size, res=res, patch_size=patch_size, name=name)
        else:
            grid = transform.grid(*size, res=res, patch_size=patch_size, name=name)
        fg = None
        if item.mask is not None:
            mask = read_mask(item.mask, item.mask_spec)
            if mask.size != size:
                mask = mask.resize(size, resample=Image.Resampling.NEAREST)
            if transform is not None:
                mask = transform.mask(mask, grid, res=res, patch_size=patch_size)
            fg = patch_fractions(mask, grid, patch_size=patch_size).astype(np.float32)
        out.append(Prepared(item, size, grid, fg))
    return out


def batches(prepared: Sequence[Prepared], batch_size: int) -> list[list[Prepared]]:
    """Batches of at most ``batch_size`` items that share a grid shape, in input order."""
    groups: dict[tuple[int, int], list[Prepared]] = defaultdict(list)
    for p in prepared:
        groups[p.grid].append(p)
    return [g[i : i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


def load_batch(
    batch: Sequence[Prepared],
    *,
    patch_size: int,
    pin_memory: bool = False,
    threads: int = 1,
    transform: Transform | None = None,
    res: int = 0,
    norm: tuple | None = None,
) -> torch.Tensor:
    """The (B, 3, H, W) float32 model input of a same-shape batch: each image decoded,
    resized to its grid and normalised in place (numpy and PIL, which release the GIL).

    ``pin_memory`` (for a CUDA device) makes the copy to the GPU fast; ``threads`` decode
    that many images at a time. ``transform`` (and its ``res``): as in :func:`prepare`;
    ``norm`` is the model's (mean, std) (default ImageNet's; see :func:`_with_norm`).
    """
    rows, cols = batch[0].grid
    shape = (len(batch), 3, rows * patch_size, cols * patch_size)
    x = torch.empty(shape, dtype=torch.float32, pin_memory=pin_memory)

    def load(k: int) -> None:
        p = batch[k]
        if transform is None:
            img = resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=patch_size)
            normalise_into(np.asarray(img), x[k], norm)
        else:
            pixels = transform.pixels(
                load_rgb(p.item.image), p.grid, res=res, patch_size=patch_size
            )
            normalise(pixels, x[k], _with_norm(transform, norm))

    if threads > 1 and len(batch) > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(batch))) as pool:
            list(pool.map(load, range(len(batch))))
    else:
        for k in range(len(batch)):
            load(k)
    return x


def embed(
    model: torch.nn.Module,
    spec: ModelSpec,
    batch: Sequence[Prepared],
    *,
    device: torch.device,
    precision: str = "fp32",
    inputs: torch.Tensor | None = None,
    tap: Tap | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(B, rows, cols, D) patch tokens and (B, D) CLS tokens for one same-shape batch.

    ``inputs`` is the batch's :func:`load_batch` when already loaded. The patch tokens
    are one C-contiguous float32 array, ready to become an Arrow column without a copy.
    ``tap`` (fmeval.features.taps; None: the backbone's last block without the norm).
    """
    if inputs is None:
        inputs = load_batch(batch, patch_size=spec.patch_size, norm=norm_of(spec))
    x = inputs.to(device)
    with torch.inference_mode(), autocast(precision, device):
        # On CPU one image per forward is faster than a batch (measured ~10%, perf/
        # extract_features.py: the attention of a batch leaves the caches); on GPU, the batch.
        step = CPU_FORWARD_BATCH if device.type == "cpu" else len(x)
        if tap is None:
            outs = [run_backbone(spec, model, x[i : i + step]) for i in range(0, len(x), step)]
        else:
            outs = [
                run_taps(spec.backend, model, x[i : i + step], [tap])[tap]
                for i in range(0, len(x), step)
            ]
            if not has_cls_embedding(spec):  # the family's own pooling head (issue 28)
                outs = [
                    (o[0], run_backbone(spec, model, x[i : i + step])[1])
                    for o, i in zip(outs, range(0, len(x), step))
                ]
        cls = torch.cat([o[1] for o in outs]).float().cpu().numpy()
        return tokens_to_host([o[0] for o in outs]), cls


def tokens_to_host(tokens: Sequence[torch.Tensor]) -> np.ndarray:
    """(b, D, rows, cols) patch-token tensors as one (B, rows, cols, D) float32 numpy array.

    On the CPU one copy per value, a blocked 2-D transpose per image. On a GPU the
    transpose (and the cast to float32) runs there, then each image goes through a
    page-locked buffer (a fast transfer) and is copied out by torch's threads.
    """
    _, dim, rows, cols = tokens[0].shape
    out = torch.empty((sum(len(t) for t in tokens), rows, cols, dim), dtype=torch.float32)
    at = 0
    for t in tokens:
        if t.device.type == "cpu":
            for image in t:
                src = image.reshape(dim, rows * cols).float()  # views when already float32
                out[at].view(rows * cols, dim).copy_(src.t())
                at += 1
        else:
            t = t.float().permute(0, 2, 3, 1).contiguous()
            stage = torch.empty((rows, cols, dim), dtype=torch.float32, pin_memory=True)
            for image in t:
                stage.copy_(image)
                out[at].copy_(stage)
                at += 1
    return out.numpy()


@dataclass
class Plan:
    """What an extraction will write: the prepared items, their batches (= row groups)."""

    prepared: list[Prepared]
    batches: list[list[Prepared]]
    transform: Transform | None = None  # None: Tutorial 5's resize
    res: int = 0
    tap: Tap | None = None  # None: the last block without the final norm

    @property
    def grids(self) -> dict[str, list[int]]:
        return {p.item.name: list(p.grid) for p in self.prepared}

    @property
    def row_groups(self) -> dict[str, int]:
        return {p.item.name: i for i, batch in enumerate(self.batches) for p in batch}


def plan_extraction(
    items: Sequence[Item],
    *,
    spec: ModelSpec,
    res: int,
    batch_size: int,
    transform: Transform | None = None,
    tap: Tap | None = None,
) -> Plan:
    prepared = prepare(items, res=res, patch_size=spec.patch_size, transform=transform)
    return Plan(prepared, batches(prepared, batch_size), transform, res, tap)


def iter_batches(
    model: torch.nn.Module,
    spec: ModelSpec,
    plan: Plan,
    *,
    device: torch.device,
    precision: str = "fp32",
    prefetch: bool = True,
) -> Iterator[tuple[pa.Table, dict[str, np.ndarray]]]:
    """(patch rows, CLS by image) of each batch, as computed: nothing accumulates.

    With ``prefetch``, a background thread loads the next batch (:func:`load_batch`) while
    this batch is embedded (PIL, numpy and the forward pass release the GIL).
    """
    model = model.to(device)
    # beside a GPU the job's CPU threads are free: decode several images at a time; on the
    # CPU one, beside the forward pass
    threads = 1 if device.type == "cpu" else min(DECODE_THREADS, torch.get_num_threads())
    loading = {"patch_size": spec.patch_size, "pin_memory": device.type == "cuda"}
    loading["norm"] = norm_of(spec)  # the model's input normalisation (issue 28)
    if plan.transform is not None:
        loading.update(transform=plan.transform, res=plan.res)
    ahead = _inputs_ahead(plan.batches, prefetch=prefetch, threads=threads, **loading)
    for batch, inputs in zip(plan.batches, ahead, strict=True):
        patches, cls = embed(
            model, spec, batch, device=device, precision=precision, inputs=inputs, tap=plan.tap
        )
        log.info("embedded %d image(s) at grid %s", len(batch), batch[0].grid)
        yield patch_batch_table(batch, patches), {p.item.name: c for p, c in zip(batch, cls)}


def _inputs_ahead(
    batches: Sequence[Sequence[Prepared]], *, prefetch: bool, **loading
) -> Iterator[torch.Tensor]:
    """:func:`load_batch` of each batch; with ``prefetch``, the next one loads meanwhile."""
    if not prefetch or len(batches) < 2:
        yield from (load_batch(batch, **loading) for batch in batches)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        pending = pool.submit(load_batch, batches[0], **loading)
        for batch in batches[1:]:
            inputs = pending.result()  # a decoding error surfaces here, for its own batch
            pending = pool.submit(load_batch, batch, **loading)
            yield inputs
        yield pending.result()


def extract_features(
    model: torch.nn.Module,
    spec: ModelSpec,
    items: Sequence[Item],
    *,
    res: int,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
    prefetch: bool = True,
    transform: Transform | None = None,
    tap: Tap | None = None,
) -> tuple[pa.Table, pa.Table, dict]:
    """The patch table, the CLS table and the grid shapes for ``items``, in memory.

    For small sets and tests; :func:`stream_features` writes the same rows batch by batch.
    """
    plan = plan_extraction(
        items, spec=spec, res=res, batch_size=batch_size, transform=transform, tap=tap
    )
    tables, cls = [], {}
    batches = iter_batches(model, spec, plan, device=device, precision=precision, prefetch=prefetch)
    for table, tokens in batches:
        tables.append(table)
        cls.update(tokens)
    patch_table = pa.concat_tables(tables).unify_dictionaries().combine_chunks()
    return patch_table, cls_table_of(plan.prepared, cls), plan.grids


def stream_features(
    model: torch.nn.Module,
    spec: ModelSpec,
    plan: Plan,
    meta: dict,
    *,
    device: torch.device,
    precision: str = "fp32",
    patches_out: str | os.PathLike,
    cls_out: str | os.PathLike,
) -> int:
    """Embed and write each batch as one Parquet row group as it comes; return the row count."""
    return write_stream(
        iter_batches(model, spec, plan, device=device, precision=precision),
        plan,
        meta,
        patches_out=patches_out,
        cls_out=cls_out,
    )


def write_stream(
    batches: Iterable[tuple[pa.Table, dict[str, np.ndarray]]],
    plan: Plan,
    meta: dict,
    *,
    patches_out: str | os.PathLike,
    cls_out: str | os.PathLike,
) -> int:
    """Write (patch rows, CLS by image) batches as row groups, atomically; return the row count.

    The CLS file is written first, so the patch file marks completion.
    """
    meta = {**meta, "row_groups": plan.row_groups}
    cls: dict[str, np.ndarray] = {}
    n_rows = 0
    with atomic_path(patches_out, suffix=".parquet") as tmp:
        writer = None
        try:
            for table, tokens in batches:
                if writer is None:
                    meta["embed_dim"] = table.schema.field("feature").type.list_size
                    schema = table.schema.with_metadata(encode_metadata(meta))
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                writer.write_table(table, row_group_size=table.num_rows)
                cls.update(tokens)
                n_rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        write_table(cls_table_of(plan.prepared, cls), cls_out, meta=meta)
    return n_rows


def provenance(
    spec: ModelSpec,
    manifest: dict,
    *,
    dataset: str,
    res: int,
    grids: dict,
    dim: int | None,
    precision: str = "fp32",
    device: str = "cpu",
    tap: str = DEFAULT_TAP,
    transform: str = DEFAULT_TRANSFORM,
) -> dict:
    """The key-value metadata stored with every feature file.

    A file of the default tap and transform has no ``tap``/``transform`` keys (its metadata
    is as before taps existed); any other names both (fmeval.features.taps, .transforms).
    """
    try:
        import timm

        timm_version = timm.__version__
    except ImportError:  # pragma: no cover - timm is a pinned dependency
        timm_version = "absent"
    variant = {}
    if (tap, transform) != (DEFAULT_TAP, DEFAULT_TRANSFORM):
        variant = {"tap": tap, "transform": transform}
    return {
        "dataset": dataset,
        "model": spec.key,
        "model_name": spec.name,
        "backend": spec.backend,
        "weights": manifest["weights_id"],
        "random_init": spec.is_random,
        "res": res,
        "patch_size": spec.patch_size,
        "embed_dim": dim,
        "grids": grids,
        "layer": parse_tap(tap).description,
        **variant,
        **model_facts(spec.backend, spec.name),  # family, embedding, input norm (issue 28)
        "precision": precision,
        "device": device,  # where it ran (an execution setting: changing it reruns nothing)
        "torch_version": torch.__version__,
        "timm_version": timm_version,
        "python_version": platform.python_version(),
    }


def write_features(
    patch_table: pa.Table, cls_table: pa.Table, meta: dict, *, patches: str, cls: str
) -> None:
    """Write both in-memory tables atomically (CLS first, so the patch file marks completion)."""
    write_table(cls_table, cls, meta=meta)
    write_table(patch_table, patches, meta=meta)


def run_extraction(
    *,
    dataset_manifest: str,
    model_manifest: str,
    dataset: str,
    res: int,
    precision: str,
    batch_size: int,
    device: str,
    patches: str,
    cls: str,
    tap: str = DEFAULT_TAP,
    transform: str = DEFAULT_TRANSFORM,
    images: Collection[str] | None = None,
    extra_meta: dict | None = None,
) -> None:
    """Everything ``extract_features`` does: build the backbone offline, embed, write.

    ``tap`` and ``transform`` name the tokens and the image transform (fmeval.features.taps,
    .transforms); the defaults take Tutorial 5's path, unchanged. ``images`` (a shard:
    fmeval.features.shards) keeps those images of the manifest only, and ``extra_meta`` is
    added to the files' metadata.
    """
    from fmeval.features.backbones import create_backbone, load_manifest
    from fmeval.features.datasets import read_manifest

    spec, manifest = load_manifest(model_manifest)
    if spec.is_random:
        log.warning("model %s uses RANDOM-INIT weights: features are for testing only", spec.key)
    dev = pick_device(device)
    log.info(
        "running on %s (device: %s), precision %s, batch size %d",
        dev,
        device,
        precision,
        batch_size,
    )
    model = create_backbone(spec, manifest)
    default = (tap, transform) == (DEFAULT_TAP, DEFAULT_TRANSFORM)
    items = read_manifest(dataset_manifest)
    if images is not None:  # one shard of the cell (fmeval.features.shards)
        keep = set(images)
        items = [item for item in items if item.name in keep]
    plan = plan_extraction(
        items,
        spec=spec,
        res=res,
        batch_size=batch_size,
        transform=None if default else get_transform(transform),
        tap=None if default else parse_tap(tap),
    )
    meta = provenance(
        spec,
        manifest,
        dataset=dataset,
        res=res,
        grids=plan.grids,
        dim=None,
        precision=precision,
        device=str(dev),
        tap=tap,
        transform=transform,
    )
    meta.update(extra_meta or {})
    n_rows = stream_features(
        model,
        spec,
        plan,
        meta,
        device=dev,
        precision=precision,
        patches_out=patches,
        cls_out=cls,
    )
    log.info("wrote %d patches of %d images to %s", n_rows, len(plan.prepared), patches)
