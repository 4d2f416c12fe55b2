"""The options a CT method leaves to tuning, and filling them from a cell's tuning record.

A config value ``"tune"`` leaves an option to rule ``tune_baseline`` (:mod:`fmeval.ct.tuning`),
which writes one record per (method, views, noise) cell; rule ``reconstruct_sinograms``
reads the chosen values back (:func:`apply_tuning`). Torch-free: the rules read it at plan time.
"""

import os
from collections.abc import Mapping

from fmeval.ct.methods import METHODS
from fmeval.errors import DataError
from fmeval.io.reading import read_json
from fmeval.specs import TUNE  # a config value that leaves an option to tune_baseline


def needs_tuning(method: str, options: Mapping) -> bool:
    return any(options.get(key) == TUNE for key in METHODS[method].tunable)


def read_tuning(path: str | os.PathLike) -> dict:
    return read_json(path, what="tuning record", fix="rerun tune_baseline")


def apply_tuning(
    options: Mapping, tuned: str | None, *, method: str, views: int, noise: str
) -> tuple[dict, dict | None]:
    """``options`` with the values left to tuning (``"tune"``) taken from the cell's record,
    and a summary of that record (None when nothing was tuned)."""
    options = dict(options)
    if not needs_tuning(method, options):
        return options, None
    if not tuned:
        raise DataError(f"{method} at {views} views, noise {noise}: options {options} need a "
                        "tuning record (rule tune_baseline)")  # fmt: skip
    record = read_tuning(tuned)
    if (record["method"], int(record["views"]), record["noise"]) != (method, views, noise):
        raise DataError(
            f"tuning record {tuned} is for {record['method']} at {record['views']} views, noise "
            f"{record['noise']}, not {method} at {views}, {noise}; rerun tune_baseline"
        )
    for key in METHODS[method].tunable:
        if options.get(key) == TUNE:
            options[key] = record["chosen"][key]
    summary = {
        "chosen": record["chosen"],
        "validation_psnr": record["validation_psnr"],
        "validation_ids": record["validation_ids"],
        "n_evaluations": record["n_evaluations"],
        "seconds": record["seconds"],
    }
    return options, summary
