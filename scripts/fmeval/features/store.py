"""The Parquet feature store: one row per patch, CLS tokens per image, run metadata.

Files open in pandas and duckdb; :func:`read_features` maps them back to numpy
without copying the feature matrix. Each reader takes one file or a cell's shard set (a
folder or a list of shard files: :mod:`fmeval.features.shardset`).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pyarrow.parquet as pq

from fmeval.errors import DataError
from fmeval.features import shardset
from fmeval.features.storage import to_float32
from fmeval.io.tables import decode_metadata, read_meta


def feature_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """An (N, D) matrix as a fixed-size-list Arrow column, without a copy: float16 and
    uint16 (bfloat16 bits, fmeval.features.storage) stay as they are, others become float32."""
    keep = matrix.dtype in (np.float32, np.float16, np.uint16)
    matrix = np.ascontiguousarray(matrix, dtype=matrix.dtype if keep else np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


@dataclass
class PatchFeatures:
    """Patch rows of a feature file. ``features`` is a zero-copy view of the Arrow buffer."""

    table: pa.Table
    features: np.ndarray  # (N, D) float32 (read-only when stored as fp32: a view)
    image_index: np.ndarray  # (N,) int, index into ``images``
    images: list[str]
    splits: dict[str, str]
    row: np.ndarray
    col: np.ndarray
    fg_fraction: np.ndarray  # (N,) float32, NaN where the image has no mask
    meta: dict

    def rows_of(self, image: str) -> np.ndarray:
        return np.flatnonzero(self.image_index == self.images.index(image))

    def grid_of(self, image: str) -> tuple[int, int]:
        return tuple(self.meta["grids"][image])


def _zero_copy(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _read(path: str | os.PathLike) -> pa.Table:
    """The whole file, one Arrow chunk per row group (``pq.read_table`` splits into batches)."""
    return pq.ParquetFile(path, memory_map=True).read()


def read_features(path: str | os.PathLike) -> PatchFeatures:
    """Read a patch-feature Parquet file; the (N, D) matrix is not copied out of Arrow.

    Files written by :func:`write_table` hold one row group, so each column is one
    Arrow chunk and ``features`` is a view of its value buffer (``owndata`` is False).
    """
    if shardset.is_shard_set(path):  # a folder or list of shards: fmeval.features.shardset
        return read_features_set(path)
    table = _read(path)
    return _features(table, decode_metadata(table.schema))


def _features(table: pa.Table, meta: dict) -> PatchFeatures:
    if table.column("image").num_chunks > 1:
        table = table.unify_dictionaries().combine_chunks()
    matrix = to_float32(_zero_copy(table.column("feature")))
    image = _zero_copy(table.column("image"))
    if pa.types.is_dictionary(image.type):
        images = image.dictionary.to_pylist()
        index = image.indices.to_numpy(zero_copy_only=True)
    else:
        images, index = np.unique(image.to_numpy(zero_copy_only=False), return_inverse=True)
        images = list(images)
    split = _zero_copy(table.column("split"))
    first = np.unique(index, return_index=True)[1]
    splits = {images[index[i]]: split[int(i)].as_py() for i in first}
    fg = _zero_copy(table.column("fg_fraction")).to_numpy(zero_copy_only=False).astype(np.float32)
    return PatchFeatures(
        table=table,
        features=matrix,
        image_index=index,
        images=images,
        splits=splits,
        row=_zero_copy(table.column("row")).to_numpy(zero_copy_only=True),
        col=_zero_copy(table.column("col")).to_numpy(zero_copy_only=True),
        fg_fraction=fg,
        meta=meta,
    )


@dataclass
class ClsTokens:
    images: list[str]
    splits: list[str]
    cls: np.ndarray  # (M, D) float32
    meta: dict


def read_cls(path: str | os.PathLike) -> ClsTokens:
    """Read the per-image CLS-token Parquet file (the matrix is a zero-copy view)."""
    if shardset.is_shard_set(path):
        return read_cls_set(path)
    table = _read(path)
    matrix = to_float32(_zero_copy(table.column("cls")))
    return ClsTokens(
        images=table.column("image").to_pylist(),
        splits=table.column("split").to_pylist(),
        cls=matrix,
        meta=decode_metadata(table.schema),
    )


def is_random_init(path: str | os.PathLike) -> bool:
    """True when the file was made with random-initialised weights."""
    return bool(read_meta(Path(path)).get("random_init", False))


# --- reading only the rows a step needs ------------------------------------------------


def _names(column: pa.Array) -> np.ndarray:
    """The image names of a (dictionary or plain) string column, as an object array."""
    if pa.types.is_dictionary(column.type):
        names = np.asarray(column.dictionary.to_pylist(), dtype=object)
        return names[column.indices.to_numpy(zero_copy_only=False)]
    return column.to_numpy(zero_copy_only=False)


@dataclass
class Rows:
    """Rows picked from a feature file: features (float32), fg fractions, image of each row."""

    features: np.ndarray  # (N, D) float32
    fg_fraction: np.ndarray  # (N,) float32
    image_index: np.ndarray  # (N,) int, index into ``images``
    images: list[str]  # every image of the split, in file order
    unmasked: list[str]  # images of the split without a mask
    meta: dict


def read_split_rows(path: str | os.PathLike, *, split: str, keep) -> Rows:
    """The rows of ``split`` whose fg fraction ``keep(fg) -> bool array`` selects.

    Reads one row group at a time (the small columns first, then the features of the kept
    rows only), so peak memory is the result plus one row group, not the whole file.
    """
    if shardset.is_shard_set(path):
        return read_split_rows_set(path, split=split, keep=keep)
    pf = pq.ParquetFile(path)
    picks, images, index, fgs, unmasked = [], {}, [], [], set()
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i, columns=["image", "split", "fg_fraction"])
        names = _names(_zero_copy(t.column("image")))
        in_split = _names(_zero_copy(t.column("split"))) == split
        fg = _zero_copy(t.column("fg_fraction")).to_numpy(zero_copy_only=False)
        fg = fg.astype(np.float32)
        for name in names[in_split]:
            images.setdefault(name, len(images))
        unmasked.update(names[in_split & np.isnan(fg)])
        rows = np.flatnonzero(in_split & keep(fg))
        picks.append(rows)
        index.append(np.array([images[n] for n in names[rows]], dtype=np.int64))
        fgs.append(fg[rows])
    dim = pf.schema_arrow.field("feature").type.list_size
    x = np.empty((sum(len(r) for r in picks), dim), dtype=np.float32)
    at = 0
    for i, rows in enumerate(picks):
        if len(rows):
            col = _zero_copy(pf.read_row_group(i, columns=["feature"]).column("feature"))
            x[at : at + len(rows)] = to_float32(col)[rows]
            at += len(rows)
    return Rows(
        features=x,
        fg_fraction=np.concatenate(fgs) if fgs else np.zeros(0, np.float32),
        image_index=np.concatenate(index) if index else np.zeros(0, np.int64),
        images=list(images),
        unmasked=sorted(unmasked),
        meta=decode_metadata(pf.schema_arrow),
    )


def read_image(path: str | os.PathLike, image: str) -> PatchFeatures:
    """The patch rows of one image only: its row group (recorded in the metadata) or a filter."""
    if shardset.is_shard_set(path):
        path = shardset.shard_of_image(path, image)
    pf = pq.ParquetFile(path)
    meta = decode_metadata(pf.schema_arrow)
    group = meta.get("row_groups", {}).get(image)
    if group is not None:
        table = pf.read_row_group(group)
        table = table.filter(pa.compute.equal(table.column("image").cast(pa.string()), image))
    else:
        table = pq.read_table(path, filters=[("image", "==", image)])
    if not table.num_rows:
        raise DataError(
            f"image {image!r} is not in the feature file {path}; rerun extract_features"
        )
    return _features(table.combine_chunks(), meta)


# --- the readers over a shard set (fmeval.features.shardset orders the rows) ----------------


def read_cls_set(source: shardset.Source):
    """:func:`read_cls` of a shard set, in the manifest's order."""
    import numpy as np

    parts = [read_cls(f) for f in shardset.shard_files(source)]
    meta = shardset.merged_meta([p.meta for p in parts])
    where = {name: (p, i) for p in parts for i, name in enumerate(p.images)}
    order = shardset.cls_order(meta)
    cls = np.empty((len(order), parts[0].cls.shape[1]), dtype=parts[0].cls.dtype)
    splits = []
    for j, name in enumerate(order):
        part, i = where[name]
        cls[j] = part.cls[i]
        splits.append(part.splits[i])
    return ClsTokens(images=order, splits=splits, cls=cls, meta=meta)


def read_split_rows_set(source: shardset.Source, *, split: str, keep):
    """:func:`read_split_rows` of a shard set, in the unsharded order.

    Each shard is read as one file, then its rows are copied into place image by image.
    """
    import numpy as np

    parts = [read_split_rows(f, split=split, keep=keep) for f in shardset.shard_files(source)]
    meta = shardset.merged_meta([p.meta for p in parts])
    rank = {name: i for i, name in enumerate(shardset.patch_order(meta))}
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


def read_features_set(source: shardset.Source):
    """:func:`read_features` of a shard set, in the unsharded order
    (rows and the image dictionary, first seen first, as in the unsharded file)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    files = shardset.shard_files(source)
    meta = shardset.merged_meta(shardset.read_metas(files))
    table = pa.concat_tables([_read(f) for f in files]).unify_dictionaries().combine_chunks()
    order = pa.array(shardset.patch_order(meta))
    ranks = pc.index_in(table.column("image").cast(pa.string()), value_set=order).to_numpy()
    table = table.take(pa.array(np.argsort(ranks, kind="stable")))
    for name in ("image", "split"):
        column = pc.dictionary_encode(table.column(name).cast(pa.string()))
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return _features(table.combine_chunks(), meta)
