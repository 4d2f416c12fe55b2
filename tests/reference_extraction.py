"""The extraction code as it was before issue 14, kept verbatim as a reference.

A stack of per-image tensors, ``.permute().numpy()``, per-patch Python strings and
``dictionary_encode``: tests/unit/features/test_extraction_reference.py checks that the lean
path gives the same tables and file bytes, perf/extraction_overhead.py times both.
"""

import numpy as np
import pyarrow as pa
import torch
from PIL import Image

from fmeval.features.backbones import run_backbone
from fmeval.features.embedding import CPU_FORWARD_BATCH
from fmeval.features.images import IMAGENET_MEAN, IMAGENET_STD, load_rgb, resize_to_grid
from fmeval.features.store import feature_column
from fmeval.io.tables import write_table


def old_to_normalised_tensor(img: Image.Image) -> torch.Tensor:
    arr = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (arr - mean) / std


def old_embed(model, spec, batch, *, device):
    x = torch.stack(
        [
            old_to_normalised_tensor(
                resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=spec.patch_size)
            )
            for p in batch
        ]
    ).to(device)
    with torch.inference_mode():
        step = CPU_FORWARD_BATCH if device.type == "cpu" else len(x)
        outs = [run_backbone(spec, model, x[i : i + step]) for i in range(0, len(x), step)]
    patches = torch.cat([o[0] for o in outs]).float().permute(0, 2, 3, 1).cpu().numpy()
    return patches, torch.cat([o[1] for o in outs]).float().cpu().numpy()


def old_patch_rows(p, feat):
    r, c = p.grid
    n = r * c
    rr, cc = np.divmod(np.arange(n, dtype=np.int32), c)
    fg = p.fg.reshape(-1) if p.fg is not None else np.full(n, np.nan, dtype=np.float32)
    return {
        "image": np.full(n, p.item.name, dtype=object),
        "split": np.full(n, p.item.split, dtype=object),
        "row": rr.astype(np.int16),
        "col": cc.astype(np.int16),
        "fg_fraction": fg,
        "feature": feat.reshape(n, -1),
    }


def old_patch_batch_table(batch, patches):
    parts = [old_patch_rows(p, feat) for p, feat in zip(batch, patches)]
    cols = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    fg = cols["fg_fraction"]
    return pa.table(
        {
            "image": pa.array(cols["image"], type=pa.string()).dictionary_encode(),
            "split": pa.array(cols["split"], type=pa.string()).dictionary_encode(),
            "row": cols["row"],
            "col": cols["col"],
            "fg_fraction": pa.array(fg, mask=np.isnan(fg), type=pa.float32()),
            "feature": feature_column(cols["feature"]),
        }
    )


def old_iter_batches(model, spec, plan, *, device):
    for batch in plan.batches:
        patches, cls = old_embed(model, spec, batch, device=device)
        yield old_patch_batch_table(batch, patches), {p.item.name: c for p, c in zip(batch, cls)}


def write_features(
    patch_table: pa.Table, cls_table: pa.Table, meta: dict, *, patches: str, cls: str
) -> None:
    """Write both in-memory tables atomically (CLS first, so the patch file marks completion):
    the one-row-group files the streamed writer's row groups are compared with."""
    write_table(cls_table, cls, meta=meta)
    write_table(patch_table, patches, meta=meta)
