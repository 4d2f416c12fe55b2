"""The Arrow tables of embedded batches: one row per patch, one row per image's CLS token.

Built from numpy without per-patch Python objects: the image and split columns are
dictionary arrays made from int32 codes, the feature column is a view of the batch's
(B, rows, cols, D) array (float32, or a compact storage: fmeval.features.storage).
"""

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from fmeval.features.plan import Prepared
from fmeval.features.store import feature_column


def _dictionary(values: Sequence[str], repeat: int) -> pa.DictionaryArray:
    """``values`` each repeated ``repeat`` times, dictionary-encoded as
    ``pa.array(...).dictionary_encode()`` would (int32 indices, first-seen order)."""
    codes: dict[str, int] = {}
    index = np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int32)
    return pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(index, repeat)), pa.array(list(codes), type=pa.string())
    )


def patch_batch_table(batch: Sequence[Prepared], patches: np.ndarray) -> pa.Table:
    """The patch rows of one embedded batch (one Parquet row group).

    ``patches`` is (B, rows, cols, D); when C-contiguous (as
    :func:`fmeval.features.embedding.embed` returns it) the feature column is a view of
    it, not a copy.
    """
    rows, cols = batch[0].grid
    n = rows * cols
    if patches.shape[:3] != (len(batch), rows, cols):
        raise ValueError(
            f"patches of shape {patches.shape} for {len(batch)} images of {rows}x{cols}"
        )
    rr, cc = (a.astype(np.int16) for a in np.divmod(np.arange(n, dtype=np.int32), cols))
    fg = np.concatenate(
        [p.fg.reshape(-1) if p.fg is not None else np.full(n, np.nan, np.float32) for p in batch]
    ).astype(np.float32, copy=False)
    return pa.table(
        {
            "image": _dictionary([p.item.name for p in batch], n),
            "split": _dictionary([p.item.split for p in batch], n),
            "row": np.tile(rr, len(batch)),
            "col": np.tile(cc, len(batch)),
            "fg_fraction": pa.array(fg, mask=np.isnan(fg), type=pa.float32()),
            "feature": feature_column(patches.reshape(len(batch) * n, -1)),
        }
    )


def cls_table_of(prepared: Sequence[Prepared], cls: dict[str, np.ndarray]) -> pa.Table:
    return pa.table(
        {
            "image": [p.item.name for p in prepared],
            "split": [p.item.split for p in prepared],
            "width": [p.size[0] for p in prepared],
            "height": [p.size[1] for p in prepared],
            "grid_rows": [p.grid[0] for p in prepared],
            "grid_cols": [p.grid[1] for p in prepared],
            "cls": feature_column(np.stack([cls[p.item.name] for p in prepared])),
        }
    )
