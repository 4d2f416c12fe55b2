"""Patch and CLS feature extraction: plan, load, embed and write, each stage overlapped.

The stages (one module each): fmeval.features.plan (grids, masks, batches),
.loading (decoding on parallel workers, batches ahead), .embedding (the forward pass,
tokens to the host in the storage precision), .tables (Arrow rows), .writing (a writer
thread, atomic files). This module runs them: :func:`run_extraction` is the rule's entry.
"""

import logging
import os
import platform
from collections.abc import Collection, Iterator, Sequence
from contextlib import closing

import numpy as np
import pyarrow as pa
import torch

from fmeval.features.datasets import Item
from fmeval.features.embedding import embed
from fmeval.features.families import model_facts
from fmeval.features.loading import DEPTH, BatchLoader, inputs_ahead, norm_of
from fmeval.features.models import ModelSpec
from fmeval.features.plan import Plan, plan_extraction
from fmeval.features.storage import DEFAULT_STORAGE, check_finite
from fmeval.features.tables import cls_table_of, patch_batch_table
from fmeval.features.taps import DEFAULT_TAP, Tap, parse_tap
from fmeval.features.transforms import DEFAULT_TRANSFORM, Transform, get_transform
from fmeval.features.writing import write_stream
from fmeval.progress import Progress
from fmeval.runtime import pick_device

log = logging.getLogger(__name__)

__all__ = [
    "extract_features",
    "iter_batches",
    "plan_extraction",
    "provenance",
    "run_extraction",
    "stream_features",
]


def decode_workers(device: torch.device) -> int:
    """Images decoded at a time: on the CPU one, beside the forward pass (which keeps the
    cores); beside a GPU every CPU thread of the job (its ``threads``)."""
    return 1 if device.type == "cpu" else max(1, torch.get_num_threads())


def iter_batches(
    model: torch.nn.Module,
    spec: ModelSpec,
    plan: Plan,
    *,
    device: torch.device,
    precision: str = "fp32",
    storage: str = DEFAULT_STORAGE,
    prefetch: bool = True,
    workers: int | None = None,
) -> Iterator[tuple[pa.Table, dict[str, np.ndarray]]]:
    """(patch rows, CLS by image) of each batch, as computed: nothing accumulates.

    With ``prefetch``, ``workers`` threads (default :func:`decode_workers`) load the next
    batches (fmeval.features.loading) while this one is embedded. Logs done/total, images/s
    and an ETA at most every 30 s (fmeval.progress).
    """
    model = model.to(device)
    loader = BatchLoader(
        patch_size=spec.patch_size,
        device=device,
        transform=plan.transform,
        res=plan.res,
        norm=norm_of(spec),  # the model's input normalisation (issue 28)
    )
    workers = decode_workers(device) if workers is None else workers
    ahead = inputs_ahead(plan.batches, loader, workers=workers, depth=DEPTH if prefetch else 0)
    progress = Progress(plan.n_images, label="extract", unit="images", log=log)
    tick = progress.update  # after each forward pass: on the CPU, each image
    with closing(ahead):  # stops the decoding workers when a batch fails
        for batch, host in zip(plan.batches, ahead, strict=True):
            x = loader.finish(host, device)
            patches, cls = embed(
                model, spec, x, precision=precision, tap=plan.tap, storage=storage, tick=tick
            )
            check_finite(patches, storage=storage)
            yield patch_batch_table(batch, patches), {p.item.name: c for p, c in zip(batch, cls)}


def extract_features(
    model: torch.nn.Module,
    spec: ModelSpec,
    items: Sequence[Item],
    *,
    res: int,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
    storage: str = DEFAULT_STORAGE,
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
    for table, tokens in iter_batches(
        model, spec, plan, device=device, precision=precision, storage=storage, prefetch=prefetch
    ):
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
    storage: str = DEFAULT_STORAGE,
    workers: int | None = None,
    patches_out: str | os.PathLike,
    cls_out: str | os.PathLike,
) -> int:
    """Embed and write each batch as one Parquet row group as it comes; return the row count."""
    batches = iter_batches(
        model, spec, plan, device=device, precision=precision, storage=storage, workers=workers
    )
    return write_stream(batches, plan, meta, patches_out=patches_out, cls_out=cls_out)


def provenance(
    spec: ModelSpec,
    manifest: dict,
    *,
    dataset: str,
    res: int,
    grids: dict,
    dim: int | None,
    precision: str = "fp32",
    storage: str = DEFAULT_STORAGE,
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
        "storage": storage,  # the tokens' precision on disk (fmeval.features.storage)
        "device": device,  # where it ran (an execution setting: changing it reruns nothing)
        "torch_version": torch.__version__,
        "timm_version": timm_version,
        "python_version": platform.python_version(),
    }


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
    storage: str = DEFAULT_STORAGE,
    images: Collection[str] | None = None,
    extra_meta: dict | None = None,
) -> None:
    """Everything ``extract_features`` does: build the backbone offline, embed, write.

    ``tap`` and ``transform`` name the tokens and the image transform (fmeval.features.taps,
    .transforms); the defaults take Tutorial 5's path, unchanged. ``storage`` is the tokens'
    precision on disk (fmeval.features.storage). ``images`` (a shard: fmeval.features.shards)
    keeps those images of the manifest only, and ``extra_meta`` is added to the files' metadata.
    """
    from fmeval.features.backbones import create_backbone, load_manifest
    from fmeval.features.datasets import read_manifest

    spec, manifest = load_manifest(model_manifest)
    if spec.is_random:
        log.warning("model %s uses RANDOM-INIT weights: features are for testing only", spec.key)
    dev = pick_device(device)
    log.info(
        "running on %s (device: %s), precision %s, storage %s, batch size %d, %d decode worker(s)",
        *(dev, device, precision, storage, batch_size, decode_workers(dev)),
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
        storage=storage,
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
        storage=storage,
        patches_out=patches,
        cls_out=cls,
    )
    log.info("wrote %d patches of %d images to %s", n_rows, plan.n_images, patches)
