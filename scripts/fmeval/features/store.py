"""The Parquet feature store: one row per patch, CLS tokens per image, run metadata.

Files open in pandas and duckdb; :func:`read_features` maps them back to numpy
without copying the feature matrix.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fmeval.io.tables import decode_metadata, read_meta


def feature_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """An (N, D) float32 matrix as a fixed-size-list Arrow column, without a copy."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


@dataclass
class PatchFeatures:
    """Patch rows of a feature file. ``features`` is a zero-copy view of the Arrow buffer."""

    table: pa.Table
    features: np.ndarray  # (N, D) float32
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
    table = _read(path)
    feats = _zero_copy(table.column("feature"))
    dim = feats.type.list_size
    matrix = feats.values.to_numpy(zero_copy_only=True).reshape(-1, dim)
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
        meta=decode_metadata(table.schema),
    )


@dataclass
class ClsTokens:
    images: list[str]
    splits: list[str]
    cls: np.ndarray  # (M, D) float32
    meta: dict


def read_cls(path: str | os.PathLike) -> ClsTokens:
    """Read the per-image CLS-token Parquet file (the matrix is a zero-copy view)."""
    table = _read(path)
    feats = _zero_copy(table.column("cls"))
    matrix = feats.values.to_numpy(zero_copy_only=True).reshape(-1, feats.type.list_size)
    return ClsTokens(
        images=table.column("image").to_pylist(),
        splits=table.column("split").to_pylist(),
        cls=matrix,
        meta=decode_metadata(table.schema),
    )


def is_random_init(path: str | os.PathLike) -> bool:
    """True when the file was made with random-initialised weights."""
    return bool(read_meta(Path(path)).get("random_init", False))
