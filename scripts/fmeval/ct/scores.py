"""The CT metrics table: PSNR and SSIM of every (method, views, noise, phantom), as Parquet.

Columns: method, views, noise, gain, sigma, phantom, psnr, ssim, weights,
random_init, and (issue 26) setting (the method's options as used, e.g. ``lam=0.0123``),
tuned (whether they were tuned on validation phantoms; then the best mean
``validation_psnr``; the search's seconds are in the tuning record, not here, so that two
runs give the same table), and for TV the PGD steps used
(``iterations``), their maximum (``max_iter``) and the final ``objective`` (NaN for the
other methods). File metadata (``fmeval.*``) repeats whether any row used random
weights, so ``fmeval.store.is_random_init`` works on it as on feature files, and records
the test phantoms' ids and the validation phantoms' ids the tuning used (disjoint, checked).
"""

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fmeval.ct.methods import METHODS
from fmeval.ct.metrics import score_images
from fmeval.ct.phantoms import load_phantoms, phantom_ids
from fmeval.ct.reconstruction import read_reconstruction_meta
from fmeval.errors import DataError
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
    "setting",
    "tuned",
    "iterations",
    "max_iter",
    "objective",
    "validation_psnr",
]


def describe_setting(method: str, options: dict) -> str:
    """The options that change a method's images, as one short string (its record's)."""
    return METHODS[method].describe(options)


def score_cell(gt: np.ndarray, images_path: str | os.PathLike, meta: Mapping) -> pd.DataFrame:
    """The rows of one (method, views, noise) cell."""
    images = load_npy(images_path, what="reconstructions", fix="rerun reconstruct_sinograms")
    rows = score_images(gt, images)
    for key in ("method", "views", "noise", "gain", "sigma", "weights", "random_init"):
        rows[key] = meta[key]
    rows["setting"] = describe_setting(meta["method"], meta.get("options") or {})
    tuned = meta.get("tuned") or {}
    rows["tuned"] = bool(tuned)
    rows["validation_psnr"] = float(tuned.get("validation_psnr", np.nan))
    n = len(rows)
    rows["iterations"] = np.asarray(meta.get("iterations") or [np.nan] * n, dtype=np.float64)
    rows["max_iter"] = float(meta["options"]["n_iter"]) if "iterations" in meta else np.nan
    rows["objective"] = np.asarray(meta.get("objective") or [np.nan] * n, dtype=np.float64)
    return rows[COLUMNS]


def run_scoring(
    *, phantoms: str, images: Sequence[str], metas: Sequence[str], metrics: str, seed: int
) -> pd.DataFrame:
    """Rule ``score_reconstructions``: score every cell against the phantoms and write
    ``metrics``.
    """
    gt = load_phantoms(phantoms)
    records = [read_reconstruction_meta(meta) for meta in metas]
    frames = [score_cell(gt, path, meta) for path, meta in zip(images, records, strict=True)]
    test_ids = phantom_ids(len(gt), part="test")
    validation_ids = sorted({i for r in records for i in (r.get("tuned") or {}).get(
        "validation_ids", [])})  # fmt: skip
    overlap = sorted(set(test_ids) & set(validation_ids))
    if overlap:
        raise DataError(f"the tuning used test phantoms {overlap[:5]}; rerun tune_baseline")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    table = table.sort_values(["method", "noise", "views", "phantom"], kind="stable").reset_index(
        drop=True
    )
    table = table.astype(
        {
            "views": "int64",
            "phantom": "int64",
            "random_init": bool,
            "gain": float,
            "sigma": float,
            "tuned": bool,
        }
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
        "phantom_ids": test_ids,
        "validation_ids": validation_ids,
        "seed": seed,
    }
    write_table(pa.Table.from_pandas(table, preserve_index=False), metrics, meta=meta)
    log.info("scored %d cells, %d rows", len(frames), len(table))
    return table


def read_scores(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """The metrics table and its ``fmeval.*`` metadata."""
    with reading(path, what="the CT metrics", fix="rerun score_reconstructions"):
        return pq.read_table(path).to_pandas(), read_meta(path)
