"""Tables and records on disk: Parquet files with ``fmeval.*`` metadata, JSON records.

Every write is atomic (:mod:`fmeval.io.atomic`), so a killed job never leaves a file
that looks finished.
"""

import json
import math
import os
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from fmeval.io.atomic import atomic_path

META_PREFIX = "fmeval."


def encode_metadata(meta: Mapping) -> dict[bytes, bytes]:
    """Flat ``fmeval.*`` key-value metadata; non-strings are stored as JSON."""
    return {
        f"{META_PREFIX}{k}".encode(): (v if isinstance(v, str) else json.dumps(v)).encode()
        for k, v in meta.items()
    }


def decode_metadata(schema: pa.Schema) -> dict:
    out = {}
    for k, v in (schema.metadata or {}).items():
        key = k.decode()
        if key.startswith(META_PREFIX):
            text = v.decode()
            try:
                out[key[len(META_PREFIX) :]] = json.loads(text)
            except json.JSONDecodeError:
                out[key[len(META_PREFIX) :]] = text
    return out


def write_table(table: pa.Table, path: str | os.PathLike, *, meta: Mapping) -> None:
    """Write ``table`` with ``meta`` atomically, as a single row group."""
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **encode_metadata(meta)}
    )
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, row_group_size=max(table.num_rows, 1), compression="zstd")


def read_meta(path: str | os.PathLike) -> dict:
    """The ``fmeval.*`` metadata of a Parquet file, without reading its data."""
    return decode_metadata(pq.read_schema(path))


def json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def write_json(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` as JSON atomically (NaN becomes null)."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(json_safe(obj), indent=1))
