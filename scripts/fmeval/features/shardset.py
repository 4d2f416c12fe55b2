"""A cell's features given as one file, a folder of shard files or a list of shard files.

The shards of a cell (:mod:`fmeval.features.shards`) are read as one Parquet dataset,
without a concatenated copy on disk: ``pyarrow.dataset.dataset(folder)``,
``pandas.read_parquet(folder)`` and duckdb's ``'folder/*.parquet'`` all read a folder.
The readers of :mod:`fmeval.features.store` take any of the three forms; here is how a
shard set maps back to the unsharded file's order:

- CLS rows: in the dataset manifest's order (each shard records its images' positions);
- patch rows: grouped by grid shape in order of first appearance, then manifest order,
  as the unsharded extraction batches them (:func:`fmeval.features.extraction.batches`).
"""

import os
from collections.abc import Sequence
from pathlib import Path

from fmeval.errors import DataError
from fmeval.io.tables import read_meta

Source = str | os.PathLike | Sequence[str | os.PathLike]


def shard_files(source: Source) -> list[Path]:
    """The Parquet files of ``source``: a file, a folder of ``*.parquet`` or a list of files."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_dir():
            return [path]
        files = sorted(path.glob("*.parquet"), key=_shard_key)
        if not files:
            raise DataError(f"{path} holds no .parquet shard files; rerun extract_feature_shard")
        return files
    files = [Path(p) for p in source]
    if not files:
        raise DataError("no feature files given (an empty shard set)")
    return files


def _shard_key(path: Path) -> tuple:
    stem = path.name.split(".")[0]
    return (0, int(stem), "") if stem.isdigit() else (1, 0, path.name)


def is_shard_set(source: Source) -> bool:
    """Whether ``source`` is more than one file (or a folder): the readers then merge."""
    return not isinstance(source, str | os.PathLike) or Path(source).is_dir()


def merged_meta(metas: Sequence[dict]) -> dict:
    """One cell's metadata from its shards': grids and positions merged, shard ids dropped."""
    out = dict(metas[0])
    for key in ("shard", "row_groups"):
        out.pop(key, None)
    out["grids"], out["positions"] = {}, {}
    for meta in metas:
        if "positions" not in meta:
            raise DataError("a feature file in a shard set has no shard metadata; re-extract")
        out["grids"].update(meta.get("grids", {}))
        out["positions"].update(meta["positions"])
    return out


def read_metas(files: Sequence[Path]) -> list[dict]:
    return [read_meta(f) for f in files]


def cls_order(meta: dict) -> list[str]:
    """The images in the unsharded CLS file's order: the dataset manifest's."""
    positions = meta["positions"]
    return sorted(positions, key=positions.__getitem__)


def patch_order(meta: dict) -> list[str]:
    """The images in the unsharded patch file's order: by grid (first seen), then manifest."""
    names = cls_order(meta)
    first: dict[tuple, int] = {}
    for i, name in enumerate(names):
        first.setdefault(tuple(meta["grids"][name]), i)
    rank = {name: (first[tuple(meta["grids"][name])], i) for i, name in enumerate(names)}
    return sorted(names, key=rank.__getitem__)


# --- the store's readers over a shard set (fmeval.features.store calls these) -------------


def read_cls_set(source: Source):
    """:func:`fmeval.features.store.read_cls` of a shard set, in the manifest's order."""
    import numpy as np

    from fmeval.features.store import ClsTokens, read_cls

    parts = [read_cls(f) for f in shard_files(source)]
    meta = merged_meta([p.meta for p in parts])
    where = {name: (p, i) for p in parts for i, name in enumerate(p.images)}
    order = cls_order(meta)
    cls = np.empty((len(order), parts[0].cls.shape[1]), dtype=parts[0].cls.dtype)
    splits = []
    for j, name in enumerate(order):
        part, i = where[name]
        cls[j] = part.cls[i]
        splits.append(part.splits[i])
    return ClsTokens(images=order, splits=splits, cls=cls, meta=meta)


def read_split_rows_set(source: Source, *, split: str, keep):
    """:func:`fmeval.features.store.read_split_rows` of a shard set, in the unsharded order.

    Each shard is read as one file, then its rows are copied into place image by image.
    """
    import numpy as np

    from fmeval.features.store import Rows, read_split_rows

    parts = [read_split_rows(f, split=split, keep=keep) for f in shard_files(source)]
    meta = merged_meta([p.meta for p in parts])
    rank = {name: i for i, name in enumerate(patch_order(meta))}
    images = sorted({n for p in parts for n in p.images}, key=rank.__getitem__)
    index = {name: i for i, name in enumerate(images)}
    runs = []  # (rank, part, start, stop): each image's rows, contiguous in its shard
    for part in parts:
        ids = part.image_index
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else []
        for start, stop in zip(starts, [*starts[1:], len(ids)]):
            runs.append((rank[part.images[ids[start]]], id(part), part, start, stop))
    runs.sort(key=lambda r: r[0])
    dim = parts[0].features.shape[1]
    n = sum(len(p.image_index) for p in parts)
    x = np.empty((n, dim), dtype=np.float32)
    fg = np.empty(n, dtype=np.float32)
    image_index = np.empty(n, dtype=np.int64)
    at = 0
    for _, _, part, start, stop in runs:
        end = at + stop - start
        x[at:end] = part.features[start:stop]
        fg[at:end] = part.fg_fraction[start:stop]
        image_index[at:end] = index[part.images[part.image_index[start]]]
        at = end
    unmasked = sorted({n for p in parts for n in p.unmasked})
    return Rows(x, fg, image_index, images, unmasked, meta)


def read_features_set(source: Source):
    """:func:`fmeval.features.store.read_features` of a shard set, in the unsharded order
    (rows and the image dictionary, first seen first, as in the unsharded file)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from fmeval.features.store import _features, _read

    files = shard_files(source)
    meta = merged_meta(read_metas(files))
    table = pa.concat_tables([_read(f) for f in files]).unify_dictionaries().combine_chunks()
    order = pa.array(patch_order(meta))
    ranks = pc.index_in(table.column("image").cast(pa.string()), value_set=order).to_numpy()
    table = table.take(pa.array(np.argsort(ranks, kind="stable")))
    for name in ("image", "split"):
        column = pc.dictionary_encode(table.column(name).cast(pa.string()))
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return _features(table.combine_chunks(), meta)


def shard_of_image(source: Source, image: str) -> Path:
    """The shard file that holds ``image`` (from each shard's recorded positions)."""
    for f in shard_files(source):
        if image in read_meta(f).get("positions", {}):
            return f
    raise DataError(f"image {image!r} is in no shard of {source}; rerun the extraction")
