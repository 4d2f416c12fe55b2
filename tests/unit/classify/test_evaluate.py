import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image

from fmeval.classify.evaluate import fit_linear_probe, score_knn
from fmeval.classify.summary import report_classify
from fmeval.features.store import feature_column
from fmeval.io.tables import write_table

CLASSES = ["a", "b", "c"]


def cell(tmp_path, model="m", res=28, seed=0):
    """A labelled embeddings file and its dataset manifest, under results-like paths."""
    rng = np.random.default_rng(seed)
    n = 60
    labels = np.arange(n) % 3
    split = np.where(np.arange(n) < 45, "train", "test")
    names = [f"{s}/{CLASSES[y]}/{i}" for i, (s, y) in enumerate(zip(split, labels))]
    centres = rng.normal(size=(3, 8)) * 2
    vec = lambda: (centres[labels] + rng.normal(size=(n, 8))).astype(np.float32)  # noqa: E731
    table = pa.table(
        {
            "image": names,
            "split": split.tolist(),
            "label": labels.astype(np.int32),
            "class": [CLASSES[y] for y in labels],
            "cls": feature_column(vec()),
            "mean_patch": feature_column(vec()),
        }
    )
    folder = tmp_path / "results" / "classify" / "ds" / model / str(res)
    meta = {
        "dataset": "ds",
        "model": model,
        "res": res,
        "random_init": True,
        "weights": "random-init",
        "classes": CLASSES,
    }
    write_table(table, folder / "embeddings.parquet", meta=meta)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    record = {"task": "classification", "classes": CLASSES, "train": [], "test": []}
    for i, (name, s, y) in enumerate(zip(names, split, labels)):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(data / f"{i}.png")
        record[s].append(
            {"name": name, "image": f"data/{i}.png", "mask": None, "label": CLASSES[y]}
        )
    (tmp_path / "manifest.json").write_text(json.dumps(record))
    return folder


def run_cell(folder, ks=(1, 5, 20)):
    score_knn(
        embeddings=str(folder / "embeddings.parquet"),
        k=list(ks),
        temperature=0.07,
        device="cpu",
        table=str(folder / "knn.csv"),
        predictions=str(folder / "knn_predictions.parquet"),
    )
    fit_linear_probe(
        embeddings=str(folder / "embeddings.parquet"),
        cs=[0.01, 1.0],
        val_fraction=0.25,
        seed=0,
        max_iter=1000,
        tol=1e-6,
        table=str(folder / "linear.csv"),
        predictions=str(folder / "linear_predictions.parquet"),
        confusion=str(folder / "confusion.csv"),
    )


def test_cell_tables_and_report(tmp_path):
    folders = [cell(tmp_path, model="m", res=28), cell(tmp_path, model="m", res=56, seed=1)]
    for folder in folders:
        run_cell(folder)
    knn = pd.read_csv(folders[0] / "knn.csv")
    assert sorted(set(knn["embedding"])) == ["cls", "mean_patch"]
    assert sorted(set(knn["k"])) == [1, 5, 20] and knn["random_init"].all()
    linear = pd.read_csv(folders[0] / "linear.csv")
    assert linear.groupby("embedding")["selected"].sum().tolist() == [1, 1]
    assert linear.loc[~linear["selected"], "top1"].isna().all()
    conf = pd.read_csv(folders[0] / "confusion.csv")
    assert conf.groupby("embedding")["count"].sum().tolist() == [15, 15]  # every test image once
    chosen = linear[linear["selected"] & (linear["embedding"] == "cls")]["top1"].item()
    diag = conf[(conf["embedding"] == "cls") & (conf["true"] == conf["predicted"])]["count"].sum()
    assert chosen == pytest.approx(100 * diag / 15)

    report = tmp_path / "report"
    names = ["table", "knn", "linear", "confusion", "mistakes"]
    out = {"accuracy": report / "accuracy.csv", "curves": report / "curves.csv"}
    out |= {f"{n}_{ext}": report / f"{n}.{ext}" for n in names for ext in ("png", "svg")}
    report_classify(
        knn=[str(f / "knn.csv") for f in folders],
        linear=[str(f / "linear.csv") for f in folders],
        confusion=[str(f / "confusion.csv") for f in folders],
        predictions=[str(f / "linear_predictions.parquet") for f in folders],
        datasets=["ds"],
        manifests=[str(tmp_path / "manifest.json")],
        n_misclassified=4,
        outputs={k: str(v) for k, v in out.items()},
    )
    assert all(p.stat().st_size > 0 for p in out.values())
    acc = pd.read_csv(out["accuracy"])
    assert len(acc) == 2 * 2 * 2  # 2 cells x (knn at k=20, linear) x 2 embeddings
    assert set(acc.loc[acc["method"] == "knn", "setting"]) == {"k=20"}
    assert "RANDOM-INIT" in out["table_svg"].read_text()
