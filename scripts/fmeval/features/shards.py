"""Sharded extraction: a cell's images split into a fixed number of shards, one job each.

An image belongs to shard ``sha256(name) mod n`` (:func:`shard_of`): the assignment
depends on the image's name and the shard count only, so adding images to a dataset
changes only the shards they fall into, and the others are not re-extracted. (Ranges
of sorted names with a fixed number of images per shard would move every later
boundary when one image is inserted.)

Each shard is a complete feature file pair (patches, CLS) for its images, written as
:func:`fmeval.features.extraction.run_extraction` writes a cell. Its metadata also names
the shard (``shard``: [k, n]) and each image's index in the dataset manifest
(``positions``), so the readers (:mod:`fmeval.features.shardset`) return a shard set's
rows in the order of the unsharded file: every number computed from them is the same.
"""

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from fmeval.errors import DataError

SHARD_KEY = "features.shards"


def shard_of(name: str, n: int) -> int:
    """The shard (0 .. n-1) of the image called ``name`` among ``n`` shards."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


@functools.lru_cache(maxsize=64)
def _manifest_records(path: str, mtime_ns: int) -> tuple[tuple[str, str, int], ...]:
    """(name, image path, image bytes) of every record of a manifest, train first."""
    del mtime_ns  # the cache key: a rewritten manifest is read again
    root = Path(path).parent
    manifest = json.loads(Path(path).read_text())
    out = []
    for split in ("train", "test"):
        for rec in manifest[split]:
            image = root / rec["image"]
            size = image.stat().st_size if image.exists() else -1
            out.append((rec["name"], rec["image"], size))
    return tuple(out)


def manifest_records(path: str | os.PathLike) -> tuple[tuple[str, str, int], ...]:
    return _manifest_records(str(path), os.stat(path).st_mtime_ns)


def shard_members(manifest: str | os.PathLike, k: int, n: int) -> list[list]:
    """The [name, image path, bytes] of shard ``k`` of ``n``, in manifest order.

    The rule's params: a shard reruns when this list changes (an image added, removed,
    renamed or resized in it) and only then; the dataset manifest itself is an ``ancient``
    input, so a rewritten manifest does not rerun the shards it leaves as they were.
    """
    if not 0 <= k < n:
        raise DataError(f"shard {k} of {n} does not exist (0 .. {n - 1})")
    return [list(r) for r in manifest_records(manifest) if shard_of(r[0], n) == k]


def shard_meta(manifest: str | os.PathLike, names: Sequence[str], k: int, n: int) -> dict:
    """The metadata a shard adds to its files: its id and its images' manifest positions."""
    index = {r[0]: i for i, r in enumerate(manifest_records(manifest))}
    missing = [name for name in names if name not in index]
    if missing:
        raise DataError(
            f"shard {k} of {n}: images {missing[:5]} are not in {manifest}; "
            "the dataset changed since the plan: run snakemake again"
        )
    return {"shard": [k, n], "positions": {name: index[name] for name in names}}


def run_shard(
    *,
    shard: int,
    shards: int,
    images: Sequence,
    dataset_manifest: str,
    model_manifest: str,
    dataset: str,
    res: int,
    precision: str,
    batch_size: int,
    device: str,
    patches: str,
    cls: str,
    storage: str = "fp32",
) -> None:
    """Rule ``extract_feature_shard``: shard ``shard`` of ``shards`` (its ``images``: names,
    or the rule's (name, path, bytes) entries) of one cell.

    The other arguments are :func:`fmeval.features.extraction.run_extraction`'s. A
    failure (a corrupt image, out of memory) is one line naming the shard and, from the
    underlying error, the image; the output files are written atomically, so a failed
    shard leaves none and a rerun redoes that shard only.
    """
    import torch

    images = [i if isinstance(i, str) else i[0] for i in images]
    extraction = dict(
        dataset_manifest=dataset_manifest,
        model_manifest=model_manifest,
        dataset=dataset,
        res=res,
        precision=precision,
        storage=storage,
        batch_size=batch_size,
        device=device,
        patches=patches,
        cls=cls,
    )

    from fmeval.errors import FmevalError
    from fmeval.features.extraction import run_extraction

    where = f"shard {shard} of {shards} ({extraction['dataset']}, {len(images)} images)"
    meta = shard_meta(extraction["dataset_manifest"], images, shard, shards)
    if not images:  # more shards than this shard's hash drew images: files without rows
        write_empty_shard(meta=meta, **extraction)
        return
    try:
        run_extraction(images=images, extra_meta=meta, **extraction)
    except FmevalError as err:
        raise DataError(f"{where}: {err}") from err
    except (MemoryError, torch.cuda.OutOfMemoryError) as err:
        raise DataError(
            f"{where}: out of memory ({type(err).__name__}); lower batch_size or raise "
            f"{SHARD_KEY} so each job holds fewer images"
        ) from err


def write_empty_shard(*, meta: dict, model_manifest: str, patches: str, cls: str, **cell) -> None:
    """A shard without images: both files with the cell's columns (and embedding width) and
    no rows, so that the shard set still reads as one dataset."""
    import numpy as np
    import pyarrow as pa

    from fmeval.features.backbones import create_backbone, load_manifest
    from fmeval.features.extraction import provenance
    from fmeval.features.storage import encode
    from fmeval.features.store import feature_column
    from fmeval.io.tables import write_table

    spec, record = load_manifest(model_manifest)
    model = create_backbone(spec, record)
    dim = int(getattr(model, "embed_dim", 0) or model.num_features)
    info = provenance(
        spec,
        record,
        dataset=cell["dataset"],
        res=cell["res"],
        grids={},
        dim=dim,
        precision=cell["precision"],
        storage=cell.get("storage", "fp32"),
        device="none",
    )
    empty = encode(np.zeros((0, dim), dtype=np.float32), cell.get("storage", "fp32"))
    strings = pa.dictionary(pa.int32(), pa.string())
    ints = {k: pa.array([], pa.int64()) for k in ("width", "height", "grid_rows", "grid_cols")}
    write_table(
        pa.table(
            {"image": pa.array([], pa.string()), "split": pa.array([], pa.string()), **ints}
            | {"cls": feature_column(empty)}
        ),
        cls,
        meta=info | meta,
    )
    table = {"image": pa.array([], strings), "split": pa.array([], strings)}
    table |= {"row": pa.array([], pa.int16()), "col": pa.array([], pa.int16())}
    table |= {"fg_fraction": pa.array([], pa.float32()), "feature": feature_column(empty)}
    write_table(pa.table(table), patches, meta=info | meta | {"row_groups": {}})
