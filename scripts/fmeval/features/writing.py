"""Writing embedded batches as Parquet row groups, on a writer thread, atomically.

Compressing and writing a batch (zstd, the file system) overlaps the next batch's forward
pass: a single writer thread takes the batches in order, at most ``ahead`` behind, so
memory holds a bounded number of batches. An error in the writer surfaces in the caller
at the next batch; on any error no file is left that looks finished (fmeval.io.atomic).
"""

import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fmeval.features.plan import Plan
from fmeval.features.tables import cls_table_of
from fmeval.io.atomic import atomic_path
from fmeval.io.tables import encode_metadata, write_table

WRITE_AHEAD = 2  # batches queued for the writer thread before the producer waits


def column_options(schema: pa.Schema) -> dict:
    """ParquetWriter options: the token column without statistics (its min and max serve no
    reader) and without dictionary encoding, except for bf16's uint16 bits, which are stored
    as 32-bit integers and halve with a dictionary. Measured per 1,024 x 768 image: fp32
    15 -> 10 ms, fp16 (fixed-size byte arrays) 39 -> 10 ms to write (issue 27, perf/README.md).
    """
    flat = [name for name in schema.names if name != "feature"]
    bits = pa.types.is_uint16(schema.field("feature").type.value_type)
    return {"write_statistics": flat, "use_dictionary": flat + ["feature.list.element"] * bits}


class _Writer:
    """One Parquet file written row group by row group; opened at the first batch."""

    def __init__(self, path, meta: dict) -> None:
        self.path, self.meta, self.writer = path, meta, None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.meta["embed_dim"] = table.schema.field("feature").type.list_size
            schema = table.schema.with_metadata(encode_metadata(self.meta))
            options = column_options(schema)
            self.writer = pq.ParquetWriter(self.path, schema, compression="zstd", **options)
        self.writer.write_table(table, row_group_size=table.num_rows)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_stream(
    batches: Iterable[tuple[pa.Table, dict[str, np.ndarray]]],
    plan: Plan,
    meta: dict,
    *,
    patches_out: str | os.PathLike,
    cls_out: str | os.PathLike,
    ahead: int = WRITE_AHEAD,
) -> int:
    """Write (patch rows, CLS by image) batches as row groups, atomically; return the row count.

    The rows are written in the order of ``batches``, by one thread (``ahead`` = 0: in this
    one). The CLS file is written last but before the patch file is renamed into place, so
    the patch file marks completion.
    """
    meta = {**meta, "row_groups": plan.row_groups}
    cls: dict[str, np.ndarray] = {}
    n_rows = 0
    with atomic_path(patches_out, suffix=".parquet") as tmp:
        writer = _Writer(tmp, meta)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write") if ahead else None
        queued: deque[Future] = deque()
        try:
            for table, tokens in batches:
                if pool is None:
                    writer.write(table)
                else:
                    queued.append(pool.submit(writer.write, table))
                    while len(queued) > ahead or (queued and queued[0].done()):
                        queued.popleft().result()  # a writer error surfaces here
                cls.update(tokens)
                n_rows += table.num_rows
            while queued:
                queued.popleft().result()
        finally:
            if pool is not None:
                for job in queued:
                    job.cancel()
                pool.shutdown(wait=True)
            writer.close()
        write_table(cls_table_of(plan.prepared, cls), cls_out, meta=meta)
    return n_rows
