"""Image embeddings for the probes: the CLS token and the mean of the patch tokens, with labels.

The CLS file is small and read whole; the patch file (one row per patch) is streamed in
record batches of the ``image`` and ``feature`` columns only, so memory holds one batch
plus one running sum per image, never the patch matrix.
"""

import logging
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fmeval.classify.download import read_labels
from fmeval.errors import DataError
from fmeval.features.shardset import shard_files
from fmeval.features.storage import to_float32
from fmeval.features.store import feature_column, read_cls
from fmeval.io.tables import decode_metadata, write_table

log = logging.getLogger(__name__)

EMBEDDINGS = ("cls", "mean_patch")
BATCH_ROWS = 8192


def mean_patch_tokens(
    path: str | os.PathLike | list, images: list[str], *, batch_rows: int = BATCH_ROWS
) -> np.ndarray:
    """(len(images), D) float32 mean patch token of each image, streamed from ``path``."""
    index = {name: i for i, name in enumerate(images)}
    # a buffered stream decodes the single row group page by page; without it pyarrow reads
    # the whole column chunk first (perf/mean_patch.py: 146 vs 832 MiB over a 750 MiB file)
    # (a cell's shard set: each shard in turn, fmeval.features.shardset)
    pfs = [pq.ParquetFile(f, buffer_size=1 << 22, pre_buffer=False) for f in shard_files(path)]
    dim = pfs[0].schema_arrow.field("feature").type.list_size
    sums = np.zeros((len(images), dim), dtype=np.float64)
    counts = np.zeros(len(images), dtype=np.int64)
    batches = (b for pf in pfs for b in pf.iter_batches(batch_rows, columns=["image", "feature"]))
    for batch in batches:
        image = batch.column("image")
        if pa.types.is_dictionary(image.type):
            lookup = np.array([index.get(n, -1) for n in image.dictionary.to_pylist()])
            ids = lookup[image.indices.to_numpy(zero_copy_only=False)]
        else:
            ids = np.array([index.get(n, -1) for n in image.to_pylist()])
        if (ids < 0).any():
            raise DataError(f"{path} has patches of images that its CLS file lacks; re-extract")
        feats = to_float32(batch.column("feature"))  # any storage (fp16, bf16) as float32
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # runs of one image
        np.add.at(sums, ids[starts], np.add.reduceat(feats, starts, axis=0, dtype=np.float64))
        counts += np.bincount(ids, minlength=len(images))
    if (counts == 0).any():
        missing = [images[i] for i in np.flatnonzero(counts == 0)[:10]]
        raise DataError(f"{path} has no patches for images {missing}; re-extract the features")
    return (sums / counts[:, None]).astype(np.float32)


@dataclass
class Embeddings:
    """Labelled embeddings of one (dataset, model, res)."""

    images: list[str]
    splits: np.ndarray  # (N,) "train" / "test"
    labels: np.ndarray  # (N,) int index into classes
    classes: list[str]
    vectors: dict[str, np.ndarray]  # embedding name -> (N, D) float32
    meta: dict

    def split(self, name: str, embedding: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.splits == name
        return self.vectors[embedding][rows], self.labels[rows]


def gather_embeddings(*, dataset_manifest: str, cls: str, patches: str, embeddings: str) -> None:
    """Join the CLS tokens, the streamed mean patch tokens and the labels into one table."""
    labels, classes, _ = read_labels(dataset_manifest)
    tokens = read_cls(cls)
    if sorted(tokens.images) != sorted(labels):
        raise DataError(
            f"{cls} does not hold the images of {dataset_manifest} "
            f"({len(tokens.images)} vs {len(labels)}); re-run extract_features"
        )
    unknown = sorted({labels[n] for n in tokens.images} - set(classes))
    if unknown:
        raise DataError(f"{dataset_manifest}: test classes {unknown} have no training images")
    label_ids = np.array([classes.index(labels[n]) for n in tokens.images], dtype=np.int32)
    mean = mean_patch_tokens(patches, tokens.images)
    table = pa.table(
        {
            "image": tokens.images,
            "split": tokens.splits,
            "label": label_ids,
            "class": [labels[n] for n in tokens.images],
            "cls": feature_column(tokens.cls),
            "mean_patch": feature_column(mean),
        }
    )
    meta = {**tokens.meta, "classes": classes}
    meta.pop("grids", None)
    write_table(table, embeddings, meta=meta)
    log.info("%d images, %d classes, D=%d", len(label_ids), len(classes), mean.shape[1])


def read_embeddings(path: str | os.PathLike) -> Embeddings:
    table = pq.read_table(path)
    meta = decode_metadata(table.schema)
    vectors = {}
    for name in EMBEDDINGS:
        col = table.column(name).combine_chunks()
        vectors[name] = col.flatten().to_numpy().reshape(len(col), col.type.list_size)
    return Embeddings(
        images=table.column("image").to_pylist(),
        splits=np.array(table.column("split").to_pylist()),
        labels=table.column("label").to_numpy(),
        classes=list(meta["classes"]),
        vectors=vectors,
        meta=meta,
    )
