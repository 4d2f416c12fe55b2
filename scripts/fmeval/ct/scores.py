"""The CT metrics table: PSNR and SSIM of every (method, views, noise, phantom), as Parquet.

Columns: method, views, noise, gain, sigma, phantom, psnr, ssim, weights,
random_init. File metadata (``fmeval.*``) repeats whether any row used random
weights, so ``fmeval.store.is_random_init`` works on it as on feature files.
"""

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fmeval.ct.metrics import score_images
from fmeval.ct.phantoms import load_phantoms
from fmeval.ct.reconstruction import read_reconstruction_meta
from fmeval.io.reading import load_npy, reading
from fmeval.io.tables import read_meta, write_table

log = logging.getLogger(__name__)

COLUMNS = [
    "method",
    "views",
    "noise",
    "gain",
    "sigma",
    "phantom",
    "psnr",
    "ssim",
    "weights",
    "random_init",
]


def score_cell(gt: np.ndarray, images_path: str | os.PathLike, meta: Mapping) -> pd.DataFrame:
    """The rows of one (method, views, noise) cell."""
    images = load_npy(images_path, what="reconstructions", fix="rerun reconstruct_sinograms")
    rows = score_images(gt, images)
    for key in ("method", "views", "noise", "gain", "sigma", "weights", "random_init"):
        rows[key] = meta[key]
    return rows[COLUMNS]


def run_scoring(
    *, phantoms: str, images: Sequence[str], metas: Sequence[str], metrics: str, seed: int
) -> pd.DataFrame:
    """Rule ``score_reconstructions``: score every cell against the phantoms and write
    ``metrics``.
    """
    gt = load_phantoms(phantoms)
    frames = [
        score_cell(gt, path, read_reconstruction_meta(meta))
        for path, meta in zip(images, metas, strict=True)
    ]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    table = table.sort_values(["method", "noise", "views", "phantom"], kind="stable").reset_index(
        drop=True
    )
    table = table.astype(
        {"views": "int64", "phantom": "int64", "random_init": bool, "gain": float, "sigma": float}
    )
    random_init = bool(table["random_init"].any())
    if random_init:
        log.warning(
            "some reconstructions used RANDOM RAM weights: the metrics table is flagged random_init"
        )
    meta = {
        "stage": "ct",
        "random_init": random_init,
        "weights": sorted(set(table["weights"])),
        "n_phantoms": len(gt),
        "seed": seed,
    }
    write_table(pa.Table.from_pandas(table, preserve_index=False), metrics, meta=meta)
    log.info("scored %d cells, %d rows", len(frames), len(table))
    return table


def read_scores(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """The metrics table and its ``fmeval.*`` metadata."""
    with reading(path, what="the CT metrics", fix="rerun score_reconstructions"):
        return pq.read_table(path).to_pandas(), read_meta(path)
