"""The classification section: test top-1 (top-5) by model x resolution for each dataset,
method and embedding (the k-NN at its headline k, the probe at the C chosen on validation),
chance, and the figures of ``report_classify``.
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fmeval.report.tables import Cell, Row, Table, fmt, pick, read_table

CELL = ["dataset", "model", "res", "method", "embedding", "setting"]
COLUMNS = [*CELL, "top1", "top5", "chance_top1", "n_classes", "n_train", "n_test", "random_init"]
CAPTIONS = {
    "table": "Test top-1 accuracy (%) by model and resolution, per dataset.",
    "knn": "Weighted k-NN test top-1 against k (log scale); the dotted line is chance.",
    "linear": "Linear probe validation top-1 against C (log scale); the dotted line is chance.",
    "confusion": "Confusion matrix of the linear probe with the best validation accuracy.",
    "mistakes": "Misclassified test images of that probe, with true and predicted classes.",
}


def context(files, config: Mapping) -> dict:
    """What ``sections/classify.html.j2`` shows."""
    table = read_table(pick(files.tables, "accuracy.csv"), columns=COLUMNS)
    figures = {Path(p).stem: p for p in files.figures}
    random = table[table["random_init"].astype(bool)]
    return {
        "random_reasons": [
            f"classification rows of {', '.join(sorted(set(random['model'])))} come from "
            "random weights"
        ]
        if len(random)
        else [],
        "datasets": [
            {
                "name": ds,
                "n_classes": int(group["n_classes"].max()),
                "n_train": int(group["n_train"].max()),
                "n_test": int(group["n_test"].max()),
                "chance": fmt(float(group["chance_top1"].max()), 1),
                "table": accuracy_table(ds, group),
            }
            for ds, group in table.groupby("dataset", sort=True)
        ],
        "figures": [
            {"src": figures[name], "caption": caption}
            for name, caption in CAPTIONS.items()
            if name in figures
        ],
    }


def accuracy_table(dataset: str, group: pd.DataFrame) -> Table:
    """A row per (method, embedding, setting), a column per (model, res): top-1 (top-5);
    the best top-1 of the dataset in bold."""
    cols = sorted({(m, int(r)) for m, r in zip(group["model"], group["res"])})
    cells = group.set_index(["method", "embedding", "setting", "model", "res"])
    best = group["top1"].max()
    rows = []
    for (method, emb, setting), sub in group.groupby(["method", "embedding", "setting"]):
        out = [Cell(method), Cell(emb), Cell(setting)]
        for m, r in cols:
            if (method, emb, setting, m, r) not in cells.index:
                out.append(Cell("–", "num"))
                continue
            row = cells.loc[(method, emb, setting, m, r)]
            is_best = row["top1"] == best
            out.append(
                Cell(
                    f"{fmt(row['top1'], 1)} ({fmt(row['top5'], 1)})",
                    "num best" if is_best else "num",
                )
            )
        random = bool(sub["random_init"].astype(bool).any())
        rows.append(Row(out, "random" if random else "", {"method": method, "embedding": emb}))
    header = [Cell("method"), Cell("embedding"), Cell("setting")]
    header += [Cell(f"{m} {r}", "num") for m, r in cols]
    return Table(
        f"classify-{dataset}",
        header,
        rows,
        caption="Test top-1 (top-5) accuracy in %; the best top-1 of the dataset is in bold.",
    )
