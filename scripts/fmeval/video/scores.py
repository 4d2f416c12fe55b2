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
    scored; nor is the given (annotated) frame (the classifier's middle frame, which
    davis2017 would score), nor a frame without a mask. ``ids`` is 0 and the objects
    davis2017 scores (1 .. the first mask's largest id, void 255 left out).
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


def object_means(table: pd.DataFrame) -> pd.DataFrame:
    """One row per object, as davis2017 reports (``<sequence>_<object>``): the means of J and
    F over the object's scored frames (``db_statistics``' M), and J&F = (J + F) / 2."""
    scored = table[table["scored"]]
    out = scored.groupby(["sequence", "object"], sort=True)[["J", "F"]].mean().reset_index()
    out["J&F"] = (out["J"] + out["F"]) / 2
    out.insert(0, "name", [f"{s}_{o}" for s, o in zip(out["sequence"], out["object"])])
    return out


def sequence_means(table: pd.DataFrame) -> pd.DataFrame:
    """Per sequence: J, F and J&F, means over its objects of each object's frame mean
    (davis2017 reports objects only; this groups them by sequence the same way)."""
    per_object = object_means(table)
    out = per_object.groupby("sequence")[["J", "F"]].mean()
    out["J&F"] = (out["J"] + out["F"]) / 2
    out["n_objects"] = per_object.groupby("sequence").size()
    return out.reset_index()


def summarise(table: pd.DataFrame) -> dict:
    """davis2017's global means (J-Mean, F-Mean over all objects; J&F-Mean their mean), each
    object's row, and the per-sequence means."""
    per_object = object_means(table)
    j, f = float(per_object["J"].mean()), float(per_object["F"].mean())
    return {
        "J": j,
        "F": f,
        "J&F": (j + f) / 2,
        "n_objects": len(per_object),
        "objects": per_object.set_index("name")[["J", "F", "J&F"]].to_dict(orient="index"),
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
    objects = meta.get("objects") or {s: meta["ids"][s][1:] for s in meta["sequences"]}
    parts = [
        score_sequence(pred[s], sequences[s], [0, *objects[s]], meta["given"][s], bound_th=bound_th)
        for s in meta["sequences"]
    ]
    table = pd.concat(parts, ignore_index=True)
    for key in KEYS:
        table.insert(KEYS.index(key), key, labels[key])
    table["random_init"] = bool(meta.get("random_init"))
    table["protocol"] = meta.get("protocol") or ""
    record = {
        **dict(labels),
        "random_init": bool(meta.get("random_init")),
        "weights": meta.get("weights"),
        "protocol": meta.get("protocol"),
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
