"""The video report section: J&F tables, J over time, and strips of frames with their masks.

Written to ``results/report/video/`` as CSVs and PNG/SVG figures, like the other
sections; figures made from random-initialised weights carry the banner.
"""

import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from fmeval.features.images import load_rgb
from fmeval.plots import save_figure, title, write_csv
from fmeval.video.masks import read_masks
from fmeval.video.sequences import read_video_manifest

KEYS = ["dataset", "model", "res", "method"]
THUMB_WIDTH = 160  # pixels per frame in the strips (keeps the page small)
COLOURS = np.array(
    [
        [0, 0, 0],
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
    ],
    dtype=np.float32,
)


def read_metrics(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def sequence_scores(metrics: pd.DataFrame) -> pd.DataFrame:
    """J, F and J&F per configuration: one row per object as davis2017 reports them
    (``object`` 1, 2, ...), a per-sequence mean over objects (``object`` "mean") where a
    sequence has several, and the global ``mean`` row (over all objects, davis2017's)."""
    scored = metrics[metrics["scored"]]
    per_object = scored.groupby([*KEYS, "sequence", "object"], sort=True)[["J", "F"]].mean()
    objects = per_object.reset_index()
    objects["object"] = objects["object"].astype(int).astype(str)
    per_seq = per_object.groupby(level=[*KEYS, "sequence"])
    seqs = per_seq.mean()[per_seq.size() > 1].reset_index().assign(object="mean")
    means = per_object.groupby(level=KEYS).mean().reset_index().assign(sequence="mean")
    table = pd.concat([objects, seqs, means.assign(object="")], ignore_index=True)
    table["J&F"] = (table["J"] + table["F"]) / 2
    flags = metrics.groupby(KEYS)["random_init"].any().reset_index()
    table = table.merge(flags, on=KEYS)
    if "protocol" in metrics:
        table = table.merge(metrics.groupby(KEYS)["protocol"].first().reset_index(), on=KEYS)
    return table.sort_values([*KEYS, "sequence", "object"], key=_mean_last, ignore_index=True)


def _mean_last(col: pd.Series) -> pd.Series:
    if col.name in ("sequence", "object"):
        return col.map(lambda v: (v == "mean", v))
    return col


def row_label(sequence: str, obj: str) -> str:
    """davis2017's object name ``<sequence>_<object>``, ``<sequence> (mean)``, or ``mean``."""
    if sequence == "mean":
        return "mean"
    return f"{sequence} (mean)" if obj == "mean" else f"{sequence}_{obj}"


def jf_matrix(scores: pd.DataFrame) -> pd.DataFrame:
    """J&F with objects as rows (the mean last) and one column per model x res x method."""
    label = scores["model"] + " @" + scores["res"].astype(str) + " " + scores["method"]
    names = [row_label(s, o) for s, o in zip(scores["sequence"], scores["object"])]
    wide = scores.assign(config=label, name=names).pivot_table(
        index=["dataset", "name"], columns="config", values="J&F", sort=False
    )
    return wide.reset_index()


def plot_j_over_time(metrics: pd.DataFrame, dataset: str, *, png: str, svg: str) -> None:
    """J (mean over objects) per frame, one panel per sequence, one line per configuration."""
    part = metrics[metrics["dataset"] == dataset]
    seqs = sorted(part["sequence"].unique())
    fig, axes = plt.subplots(len(seqs), 1, figsize=(7, 2.2 * len(seqs) + 0.6), squeeze=False)
    for ax, seq in zip(axes[:, 0], seqs):
        rows = part[part["sequence"] == seq]
        for (model, res, method), cfg in rows.groupby(["model", "res", "method"], sort=True):
            per_t = cfg.groupby("t")["J"].mean()
            ax.plot(per_t.index, per_t.values, label=f"{model} @{res} {method}")
        ax.set(ylim=(-0.02, 1.02), ylabel="J", title=seq)
    axes[-1, 0].set_xlabel("frame")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(title(f"{dataset}: J over time", bool(part["random_init"].any())))
    fig.tight_layout()
    save_figure(fig, png, svg)


def overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The frame with each object's pixels tinted by its colour."""
    colour = COLOURS[labels.astype(int) % len(COLOURS)]
    out = image.astype(np.float32)
    fg = labels > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * colour[fg]
    return out.astype(np.uint8)


def thumbnail(image: Image.Image, labels: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    """The frame and its label map shrunk to ``width`` pixels, the mask tinted over the frame."""
    size = (width, max(1, round(image.height * width / image.width)))
    small = np.asarray(image.resize(size, Image.Resampling.BILINEAR))
    mask = np.asarray(Image.fromarray(labels).resize(size, Image.Resampling.NEAREST))
    return overlay(small, mask)


def plot_strips(
    masks: Mapping[str, str], manifest: str, *, n_frames: int, png: str, svg: str
) -> None:
    """For each sequence and method, evenly spaced frames with the predicted mask over them."""
    sequences = read_video_manifest(manifest)
    loaded = {method: read_masks(path) for method, path in masks.items()}
    rows = [(seq, method) for seq in sequences for method in loaded]
    fig, axes = plt.subplots(
        len(rows), n_frames, figsize=(1.3 * n_frames, 0.9 * len(rows) + 0.8), squeeze=False
    )
    random_init = False
    for r, (seq, method) in enumerate(rows):
        pred, meta = loaded[method]
        random_init |= bool(meta.get("random_init"))
        frames = sequences[seq]
        picks = np.linspace(0, len(frames) - 1, n_frames).round().astype(int)
        for ax, t in zip(axes[r], picks):
            ax.imshow(thumbnail(load_rgb(frames[t].image), pred[seq][t]))
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"t={t}", fontsize="x-small")
        axes[r, 0].set_ylabel(f"{seq}\n{method}", fontsize="small")
    meta = next(iter(loaded.values()))[1]
    head = f"{meta.get('dataset')}: {meta.get('model')} @{meta.get('res')}, predicted masks"
    fig.suptitle(title(head, random_init))
    fig.tight_layout()
    save_figure(fig, png, svg)


def run_report(
    *,
    metrics: Sequence[str],
    datasets: Sequence[str],
    dataset_manifests: Sequence[str],
    strips: Mapping[str, Mapping[str, str]],
    strip_frames: int,
    scores: str,
    jf: str,
    j_over_time_png: Sequence[str],
    j_over_time_svg: Sequence[str],
    strips_png: Sequence[str],
    strips_svg: Sequence[str],
) -> pd.DataFrame:
    """Everything ``report_video`` does; ``strips`` is {dataset: {method: masks.npz}};
    the manifests and figures are one per dataset, in the order of ``datasets``."""
    table = read_metrics(metrics)
    per_sequence = sequence_scores(table)
    write_csv(per_sequence, scores)
    write_csv(jf_matrix(per_sequence), jf)
    per_dataset = zip(
        datasets,
        dataset_manifests,
        j_over_time_png,
        j_over_time_svg,
        strips_png,
        strips_svg,
        strict=True,
    )
    for dataset, manifest, j_png, j_svg, strip_png, strip_svg in per_dataset:
        plot_j_over_time(table, dataset, png=j_png, svg=j_svg)
        plot_strips(strips[dataset], manifest, n_frames=strip_frames, png=strip_png, svg=strip_svg)
    return per_sequence
