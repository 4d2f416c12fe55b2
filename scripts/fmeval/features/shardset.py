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


def shard_of_image(source: Source, image: str) -> Path:
    """The shard file that holds ``image`` (from each shard's recorded positions)."""
    for f in shard_files(source):
        if image in read_meta(f).get("positions", {}):
            return f
    raise DataError(f"image {image!r} is in no shard of {source}; rerun the extraction")
