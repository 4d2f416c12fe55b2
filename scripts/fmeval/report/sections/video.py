"""The video section: J&F per sequence (the mean last) by model @ resolution x method, J over
time per dataset, and the strips of propagated masks (figures of ``report_video``).
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fmeval.report.tables import Cell, Row, Table, fmt, pick, read_table

KEYS = ["dataset", "model", "res", "method"]
COLUMNS = [*KEYS, "sequence", "J", "F", "J&F", "random_init"]


def context(files, config: Mapping) -> dict:
    """What ``sections/video.html.j2`` shows."""
    scores = read_table(pick(files.tables, "scores.csv"), columns=COLUMNS)
    random = scores[scores["random_init"].astype(bool)]
    figures = sorted(files.figures)
    return {
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


def caption(stem: str) -> str:
    if stem.startswith("j_over_time"):
        return "Region similarity J of each frame, per sequence and method (first frame given)."
    return "Frames of each sequence with the propagated mask over the image, per method."


def jf_table(dataset: str, group: pd.DataFrame) -> Table:
    """A row per sequence (the mean last), a column per model @ res x method: J&F (J / F)."""
    configs = sorted({(m, int(r), meth) for m, r, meth in group[["model", "res", "method"]].values})
    sequences = [s for s in dict.fromkeys(group["sequence"]) if s != "mean"] + ["mean"]
    cells = group.set_index(["sequence", "model", "res", "method"])
    rows = []
    for seq in sequences:
        out = [Cell(seq)]
        for m, r, meth in configs:
            key = (seq, m, r, meth)
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
    header = [Cell("sequence")] + [Cell(f"{m} @{r} {meth}", "num") for m, r, meth in configs]
    return Table(
        f"video-{dataset}",
        header,
        rows,
        caption=f"{dataset}: J&F (J / F) per sequence; the last row is the mean over objects.",
    )
