"""J and F of every predicted frame and object, and their DAVIS means."""

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from fmeval.io.tables import write_json, write_table
from fmeval.video.masks import read_masks
from fmeval.video.metrics import BOUND_TH, score_frame
from fmeval.video.sequences import read_labels, read_video_manifest

KEYS = ["dataset", "model", "res", "method"]


def score_sequence(
    pred: np.ndarray, frames, ids: list[int], given: int, *, bound_th: float
) -> pd.DataFrame:
    """One row per frame and object: J, F, whether the frame is scored.

    As in the DAVIS semi-supervised evaluation the first and last frames are not
    scored; nor is the given (annotated) frame, nor a frame without a mask.
    """
    rows = []
    last = len(frames) - 1
    for t, frame in enumerate(frames):
        if frame.mask is None:
            continue
        scored = t not in (0, last, given)
        for rec in score_frame(read_labels(frame.mask), pred[t], ids[1:], bound_th=bound_th):
            rows.append(
                {
                    "sequence": frame.name.split("/")[0],
                    "frame": frame.name.split("/")[-1],
                    "t": t,
                    **rec,
                    "given": t == given,
                    "scored": scored,
                }
            )
    return pd.DataFrame(rows)


def sequence_means(table: pd.DataFrame) -> pd.DataFrame:
    """Per sequence: J, F and J&F, means over objects of each object's mean over scored frames."""
    scored = table[table["scored"]]
    per_object = scored.groupby(["sequence", "object"], sort=True)[["J", "F"]].mean()
    out = per_object.groupby("sequence").mean()
    out["J&F"] = (out["J"] + out["F"]) / 2
    out["n_objects"] = per_object.groupby("sequence").size()
    return out.reset_index()


def summarise(table: pd.DataFrame) -> dict:
    """The DAVIS means over all objects of all sequences, and the per-sequence means."""
    per_object = table[table["scored"]].groupby(["sequence", "object"])[["J", "F"]].mean()
    j, f = float(per_object["J"].mean()), float(per_object["F"].mean())
    return {
        "J": j,
        "F": f,
        "J&F": (j + f) / 2,
        "n_objects": len(per_object),
        "sequences": sequence_means(table).set_index("sequence").to_dict(orient="index"),
    }


def run_scoring(
    *,
    masks: str,
    dataset_manifest: str,
    bound_th: float = BOUND_TH,
    labels: Mapping,
    metrics: str,
    summary: str,
) -> dict:
    """Everything ``score_video`` does: ``metrics.parquet`` (frame x object), ``summary.json``."""
    pred, meta = read_masks(masks)
    sequences = read_video_manifest(dataset_manifest)
    parts = [
        score_sequence(pred[s], sequences[s], meta["ids"][s], meta["given"][s], bound_th=bound_th)
        for s in meta["sequences"]
    ]
    table = pd.concat(parts, ignore_index=True)
    for key in KEYS:
        table.insert(KEYS.index(key), key, labels[key])
    table["random_init"] = bool(meta.get("random_init"))
    record = {
        **dict(labels),
        "random_init": bool(meta.get("random_init")),
        "weights": meta.get("weights"),
        "options": meta["options"],
        "bound_th": bound_th,
        **summarise(table),
    }
    write_table(
        pa.Table.from_pandas(table, preserve_index=False),
        metrics,
        meta={"random_init": record["random_init"]},
    )
    write_json(record, summary)
    return record
