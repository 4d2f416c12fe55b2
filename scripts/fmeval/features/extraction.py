"""Patch and CLS feature extraction, batched over images that share a resized shape."""

import logging
import platform
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from PIL import Image

from fmeval.features.backbones import run_backbone
from fmeval.features.datasets import Item
from fmeval.features.images import (
    load_mask,
    load_rgb,
    oriented_size,
    patch_fractions,
    patch_grid,
    resize_to_grid,
    to_normalised_tensor,
)
from fmeval.features.models import ModelSpec
from fmeval.features.store import feature_column
from fmeval.io.tables import write_table
from fmeval.runtime import autocast, pick_device

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    item: Item
    size: tuple[int, int]  # original (width, height)
    grid: tuple[int, int]
    fg: np.ndarray | None


def prepare(items: Sequence[Item], *, res: int, patch_size: int) -> list[Prepared]:
    """Grid shape and per-patch foreground fraction of each item.

    Image sizes come from the file headers (EXIF orientation included), so each
    image's pixels are decoded once, in :func:`embed`; only the small masks are read here.
    """
    out = []
    for item in items:
        size = oriented_size(item.image)
        grid = patch_grid(
            *size, res=res, patch_size=patch_size, name=f"image {item.name} ({item.image})"
        )
        fg = None
        if item.mask is not None:
            mask = load_mask(item.mask, from_alpha=item.mask_in_alpha)
            if mask.size != size:
                mask = mask.resize(size, resample=Image.Resampling.NEAREST)
            fg = patch_fractions(mask, grid, patch_size=patch_size).astype(np.float32)
        out.append(Prepared(item, size, grid, fg))
    return out


def batches(prepared: Sequence[Prepared], batch_size: int) -> list[list[Prepared]]:
    """Batches of at most ``batch_size`` items that share a grid shape, in input order."""
    groups: dict[tuple[int, int], list[Prepared]] = defaultdict(list)
    for p in prepared:
        groups[p.grid].append(p)
    return [g[i : i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


def embed(
    model: torch.nn.Module,
    spec: ModelSpec,
    batch: Sequence[Prepared],
    *,
    device: torch.device,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray]:
    """(B, rows, cols, D) patch tokens and (B, D) CLS tokens for one same-shape batch."""
    x = torch.stack(
        [
            to_normalised_tensor(
                resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=spec.patch_size)
            )
            for p in batch
        ]
    ).to(device)
    with torch.inference_mode(), autocast(precision, device):
        patches, cls = run_backbone(spec, model, x)
    patches = patches.float().permute(0, 2, 3, 1).cpu().numpy()
    return patches, cls.float().cpu().numpy()


def extract_features(
    model: torch.nn.Module,
    spec: ModelSpec,
    items: Sequence[Item],
    *,
    res: int,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
) -> tuple[pa.Table, pa.Table, dict]:
    """The patch table, the CLS table and the grid shapes for ``items``."""
    model = model.to(device)
    prepared = prepare(items, res=res, patch_size=spec.patch_size)
    out_patch: dict[str, np.ndarray] = {}
    out_cls: dict[str, np.ndarray] = {}
    for batch in batches(prepared, batch_size):
        patches, cls = embed(model, spec, batch, device=device, precision=precision)
        for p, feat, c in zip(batch, patches, cls):
            out_patch[p.item.name], out_cls[p.item.name] = feat, c
        log.info("embedded %d image(s) at grid %s", len(batch), batch[0].grid)

    names, splits, rows, cols, fgs, feats = [], [], [], [], [], []
    for p in prepared:
        r, c = p.grid
        n = r * c
        names.append(np.full(n, p.item.name, dtype=object))
        splits.append(np.full(n, p.item.split, dtype=object))
        rr, cc = np.divmod(np.arange(n, dtype=np.int32), c)
        rows.append(rr.astype(np.int16))
        cols.append(cc.astype(np.int16))
        fgs.append(p.fg.reshape(-1) if p.fg is not None else np.full(n, np.nan, dtype=np.float32))
        feats.append(out_patch[p.item.name].reshape(n, -1))
    fg = np.concatenate(fgs)
    patch_table = pa.table(
        {
            "image": pa.array(np.concatenate(names)).dictionary_encode(),
            "split": pa.array(np.concatenate(splits)).dictionary_encode(),
            "row": np.concatenate(rows),
            "col": np.concatenate(cols),
            "fg_fraction": pa.array(fg, mask=np.isnan(fg), type=pa.float32()),
            "feature": feature_column(np.concatenate(feats)),
        }
    )
    cls_table = pa.table(
        {
            "image": [p.item.name for p in prepared],
            "split": [p.item.split for p in prepared],
            "width": [p.size[0] for p in prepared],
            "height": [p.size[1] for p in prepared],
            "grid_rows": [p.grid[0] for p in prepared],
            "grid_cols": [p.grid[1] for p in prepared],
            "cls": feature_column(np.stack([out_cls[p.item.name] for p in prepared])),
        }
    )
    grids = {p.item.name: list(p.grid) for p in prepared}
    return patch_table, cls_table, grids


def provenance(
    spec: ModelSpec,
    manifest: dict,
    *,
    dataset: str,
    res: int,
    grids: dict,
    dim: int,
    precision: str = "fp32",
    device: str = "cpu",
) -> dict:
    """The key-value metadata stored with every feature file."""
    try:
        import timm

        timm_version = timm.__version__
    except ImportError:  # pragma: no cover - timm is a pinned dependency
        timm_version = "absent"
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
        "layer": "last block, no final norm",
        "precision": precision,
        "device": device,  # where it ran (an execution setting: changing it reruns nothing)
        "torch_version": torch.__version__,
        "timm_version": timm_version,
        "python_version": platform.python_version(),
    }


def write_features(
    patch_table: pa.Table, cls_table: pa.Table, meta: dict, *, patches: str, cls: str
) -> None:
    """Write both tables atomically (CLS first, so the patch file marks completion)."""
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
) -> None:
    """Everything ``extract_features`` does: build the backbone offline, embed, write."""
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
    patch_table, cls_table, grids = extract_features(
        model,
        spec,
        read_manifest(dataset_manifest),
        res=res,
        batch_size=batch_size,
        device=dev,
        precision=precision,
    )
    meta = provenance(
        spec,
        manifest,
        dataset=dataset,
        res=res,
        grids=grids,
        dim=patch_table.schema.field("feature").type.list_size,
        precision=precision,
        device=str(dev),
    )
    meta["device"] = str(dev)  # the device actually used (the report lists it)
    write_features(patch_table, cls_table, meta, patches=patches, cls=cls)
    log.info("wrote %d patches of %d images to %s", patch_table.num_rows, len(grids), patches)
