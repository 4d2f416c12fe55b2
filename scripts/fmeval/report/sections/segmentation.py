"""The segmentation section: best AP next to chance, AP per C, held-out test images, the
stage's plots, a grid of test images x models at one resolution, and every per-image figure.
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fmeval.report.tables import Cell, fmt, html_table, is_missing, pick, read_table
from fmeval.seg.segment import triptych_panels

KEYS = ["dataset", "model", "res"]
AP_COLUMNS = [*KEYS, "C", "mean_ap", "sd_ap", "n_folds", "n_skipped", "chance_ap", "random_init"]
TEST_COLUMNS = [
    *(*KEYS, "image", "has_mask", "ap", "chance_ap", "iou"),
    *("n_patches", "n_pred_fg", "n_true_fg", "max_score", "threshold", "random_init"),
]
KINDS = {
    "segment": "Segmentation",
    "pca": "PCA and CLS-similarity renders",
    "attention": "CLS attention maps",
}


def context(files, config: Mapping) -> dict:
    """What ``sections/segmentation.html.j2`` shows."""
    ap = read_table(pick(files.tables, "ap.csv"), columns=AP_COLUMNS)
    best = read_table(pick(files.tables, "ap_best.csv"), columns=AP_COLUMNS)
    tests = read_table(pick(files.tables, "test_scores.csv"), columns=TEST_COLUMNS)
    tests = tests.assign(note=tests.apply(iou_note, axis=1))
    images = per_image_figures(files.figures, tests)
    grid = image_grid(images)
    random = bool(ap["random_init"].any() or tests["random_init"].any())
    stage = {Path(p).name: p for p in files.figures if Path(p).parent.name == "segmentation"}
    return {
        "random_reasons": ["segmentation results come from random-initialised weights"]
        if random
        else [],
        "best": html_table("ap-best", best.sort_values(KEYS), best_columns()),
        "ap": html_table("ap", ap.sort_values([*KEYS, "C"]), ap_columns()),
        "tests": html_table("test-scores", tests, test_columns()),
        "zero_iou": tests[tests["has_mask"].astype(bool) & (tests["n_pred_fg"] == 0)][
            ["model", "res", "image", "note"]
        ].to_dict("records"),
        "ap_vs_c": stage.get("ap_vs_c.png"),
        "best_vs_res": stage.get("best_ap_vs_res.png"),
        "grid": grid,
        "galleries": galleries(images, skip_segment_res=grid.get("res")),
        "threshold": config.get("segment", {}).get("threshold"),
    }


def iou_note(r: pd.Series) -> str:
    """Why a held-out IoU is 0 (or undefined), in one sentence; empty when it needs none."""
    if not r["has_mask"]:
        return "No ground-truth mask: no AP, chance or IoU."
    if r["n_pred_fg"] == 0:
        return (
            f"IoU is 0 because no patch passed the threshold {r['threshold']:g} (highest score "
            f"{fmt(r['max_score'])}): the probe predicted no foreground at all."
        )
    return ""


def _probe_columns(c_header: str) -> list:
    """The columns the AP table and the best-C table share: the cell, C, AP and chance."""
    return [
        ("dataset", "dataset"),
        ("model", "model"),
        ("resolution (px)", "res"),
        (c_header, lambda r: Cell(f"{r['C']:g}", "num")),
        ("AP, mean ± sd", lambda r: Cell(fmt(r["mean_ap"], 3, r["sd_ap"]), "num")),
        ("chance", lambda r: Cell(fmt(r["chance_ap"]), "num chance")),
    ]


def best_columns() -> list:
    folds = ("folds (skipped)", lambda r: Cell(f"{r['n_folds']} ({r['n_skipped']})", "num"))
    return [*_probe_columns("best C"), folds]


def ap_columns() -> list:
    return [*_probe_columns("C"), ("folds", "n_folds"), ("skipped", "n_skipped")]


def test_columns() -> list:
    return [
        ("model", "model"),
        ("resolution (px)", "res"),
        ("image", "image"),
        ("AP", "ap"),
        ("chance", lambda r: Cell(fmt(r["chance_ap"]), "num chance")),
        ("IoU", "iou"),
        ("predicted / true / all patches", lambda r: Cell(patch_counts(r), "num")),
        ("note", lambda r: Cell(r["note"], "note")),
    ]


def patch_counts(r: pd.Series) -> str:
    true = "–" if is_missing(r["n_true_fg"]) else f"{int(r['n_true_fg'])}"
    return f"{int(r['n_pred_fg'])} / {true} / {int(r['n_patches'])}"


def per_image_figures(figures: list[str], tests: pd.DataFrame) -> pd.DataFrame:
    """One row per per-image figure: kind, dataset, model, res, image, path, and for the
    segmentations their panels and held-out scores.
    """
    rows = []
    pngs = [
        str(f)
        for p in figures
        for f in (sorted(Path(p).glob("*.png")) if Path(p).is_dir() else [p])
    ]  # the per-cell folders of segment_test_images, render_pca and render_attention
    for path in pngs:
        parts = Path(path).parts  # results/<kind>/<dataset>/<model>/<res>/<image>.png
        if len(parts) < 6 or parts[-6] != "results" or parts[-5] not in KINDS:
            continue
        kind, dataset, model, res = parts[-5], parts[-4], parts[-3], int(parts[-2])
        rows.append(
            {
                "kind": kind,
                "dataset": dataset,
                "model": model,
                "res": res,
                "image": Path(path).stem,
                "path": path,
            }
        )
    frame = pd.DataFrame(rows, columns=["kind", *KEYS, "image", "path"])
    scores = tests[[*KEYS, "image", "has_mask", "ap", "chance_ap", "iou", "note"]]
    merged = frame.merge(scores, on=[*KEYS, "image"], how="left")
    return merged.fillna({"note": ""}).assign(has_mask=merged["has_mask"].eq(True))


def caption(r: pd.Series) -> str:
    """A sentence naming what one per-image figure shows."""
    where = f"{r['image']} ({r['dataset']}) through {r['model']} at {r['res']} px"
    if r["kind"] != "segment":
        return f"{KINDS[r['kind']]} of {where}."
    panels = ", ".join(triptych_panels(bool(r["has_mask"])))
    text = f"Segmentation of {where}: {panels}."
    if r["has_mask"]:
        text += f" AP {fmt(r['ap'])} against chance {fmt(r['chance_ap'])}, IoU {fmt(r['iou'])}."
    if r["note"]:
        text += f" {r['note']}"
    return text


def _figure(r: pd.Series) -> dict:
    panels = triptych_panels(bool(r["has_mask"])) if r["kind"] == "segment" else []
    return {
        "src": r["path"],
        "caption": caption(r),
        "attrs": {
            "kind": r["kind"],
            **{k: str(r[k]) for k in (*KEYS, "image")},
            "has-mask": str(bool(r["has_mask"])).lower(),
        }
        | ({"panels": ",".join(panels)} if panels else {}),
    }


def image_grid(images: pd.DataFrame) -> dict:
    """Test images (rows) x models (columns) at the highest resolution, segmentation figures."""
    seg = images[images["kind"] == "segment"]
    if seg.empty:
        return {}
    res = int(seg["res"].max())
    seg = seg[seg["res"] == res]
    models = sorted(seg["model"].unique())
    rows = []
    for (dataset, image), part in seg.groupby(["dataset", "image"], sort=True):
        by_model = {r["model"]: _figure(r) for _, r in part.iterrows()}
        rows.append({"label": f"{image} ({dataset})", "cells": [by_model.get(m) for m in models]})
    return {"res": res, "models": models, "rows": rows}


def galleries(images: pd.DataFrame, *, skip_segment_res: int | None) -> list[dict]:
    """Every per-image figure, grouped by kind and resolution, but the segmentations at the
    grid's resolution (the grid shows them).
    """
    out = []
    for (kind, res), part in images.groupby(["kind", "res"], sort=True):
        if kind == "segment" and res == skip_segment_res:
            continue
        part = part.sort_values(["dataset", "image", "model"])
        out.append(
            {
                "title": f"{KINDS[kind]} at {res} px",
                "figures": [_figure(r) for _, r in part.iterrows()],
            }
        )
    order = list(KINDS)
    return sorted(out, key=lambda g: order.index(g["figures"][0]["attrs"]["kind"]))
