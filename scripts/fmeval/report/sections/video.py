"""The video section: J&F per sequence (the mean last) by model @ resolution x method, J over
time per dataset, and the strips of propagated masks (figures of ``report_video``).
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fmeval.report.tables import Cell, Row, Table, fmt, pick, read_table
from fmeval.video.protocol import CODE, DEFAULT, PUBLISHED, TRANSFORMS, departures, resolve

KEYS = ["dataset", "model", "res", "method"]
COLUMNS = [*KEYS, "sequence", "object", "J", "F", "J&F", "random_init"]


def context(files, config: Mapping) -> dict:
    """What ``sections/video.html.j2`` shows."""
    scores = read_table(pick(files.tables, "scores.csv"), columns=COLUMNS)
    random = scores[scores["random_init"].astype(bool)]
    figures = sorted(files.figures)
    return {
        "protocol": protocol_context(config),
        "random_reasons": [
            f"video rows of {', '.join(sorted(set(random['model'])))} come from random weights"
        ]
        if len(random)
        else [],
        "tables": [jf_table(ds, group) for ds, group in scores.groupby("dataset", sort=True)],
        "figures": [
            {"src": p, "caption": caption(Path(p).stem)} for p in figures if p.endswith(".png")
        ],
    }


def protocol_context(config: Mapping) -> dict:
    """The protocol's name, sources, departures and published figures (issue 25)."""
    video = config.get("video") or {}
    proto = resolve(video.get("protocol") or DEFAULT, video.get("propagate"))
    published = Table(
        "video-published",
        [Cell("model"), Cell("DAVIS-2017 val J&F", "num"), Cell("source")],
        [
            Row([Cell(model), Cell(fmt(jf, 1), "num"), Cell(src)])
            for model, jf, src in PUBLISHED[proto.name]
        ],
        caption=(
            f"Published J&F with pretrained weights under the {proto.name} protocol: "
            "published, not measured here."
        ),
    )
    return {
        "description": proto.describe(),
        "source": proto.source,
        "code": CODE[proto.name],
        "settings": (
            f"{proto.weighting} weights at temperature {proto.temperature}, top {proto.topk} "
            f"of the first frame and the last {proto.n_last_frames}, "
            f"{proto.neighborhood_shape} neighbourhood of {proto.size_mask_neighborhood} "
            f"patches; {TRANSFORMS[proto.transform]}; void label {proto.void_label}; J and F "
            "averaged per object (davis2017)"
        ),
        "departures": departures(proto, video.get("resolutions") or config.get("resolutions")),
        "published": published if PUBLISHED[proto.name] else None,
    }


def caption(stem: str) -> str:
    if stem.startswith("j_over_time"):
        return "Region similarity J of each frame, per sequence and method (first frame given)."
    return "Frames of each sequence with the propagated mask over the image, per method."


def jf_table(dataset: str, group: pd.DataFrame) -> Table:
    """A row per object (davis2017's ``<sequence>_<object>``), a per-sequence mean where a
    sequence has several objects, the mean last; a column per model @ res x method."""
    group = group.assign(object=group["object"].fillna("").astype(str).str.replace(".0", ""))
    configs = sorted({(m, int(r), meth) for m, r, meth in group[["model", "res", "method"]].values})
    keys = list(dict.fromkeys(zip(group["sequence"], group["object"])))
    keys = [k for k in keys if k[0] != "mean"] + [k for k in keys if k[0] == "mean"]
    cells = group.set_index(["sequence", "object", "model", "res", "method"])
    rows = []
    for seq, obj in keys:
        name = "mean" if seq == "mean" else f"{seq} (mean)" if obj == "mean" else f"{seq}_{obj}"
        out = [Cell(name)]
        for m, r, meth in configs:
            key = (seq, obj, m, r, meth)
            if key not in cells.index:
                out.append(Cell("–", "num"))
                continue
            row = cells.loc[key]
            out.append(
                Cell(
                    f"{fmt(row['J&F'], 3)} ({fmt(row['J'], 3)} / {fmt(row['F'], 3)})",
                    "num",
                )
            )
        rnd = bool(group[group["sequence"] == seq]["random_init"].astype(bool).any())
        rows.append(Row(out, "random" if rnd else "", {"sequence": seq}))
    header = [Cell("object")] + [Cell(f"{m} @{r} {meth}", "num") for m, r, meth in configs]
    protocols = sorted(set(group["protocol"].dropna())) if "protocol" in group else []
    follows = f" Propagation: {'; '.join(protocols)}." if protocols else ""
    return Table(
        f"video-{dataset}",
        header,
        rows,
        caption=(
            f"{dataset}: J&F (J / F) per object, as davis2017 reports them; the last row is "
            f"the mean over objects.{follows}"
        ),
    )
