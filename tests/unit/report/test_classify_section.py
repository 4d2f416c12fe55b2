"""The classification section of the page, from a small accuracy table and tiny figures."""

from pathlib import Path

import pandas as pd

from fmeval.report.render import build_report
from unit.report.dom import parse
from unit.report.fixtures import CONFIG, PATTERNS, png, write_run


def classify_inputs(root: Path, *, random_init: bool) -> dict:
    folder = root / "results/report/classify"
    folder.mkdir(parents=True)
    rows = []
    for res in (56, 112):
        for method, setting in (("knn", "k=20"), ("linear", "C=0.1")):
            for emb in ("cls", "mean_patch"):
                rows.append(
                    {
                        "dataset": "frames",
                        "model": "vits14",
                        "res": res,
                        "method": method,
                        "embedding": emb,
                        "setting": setting,
                        "top1": 40.0 + res / 8 + (method == "linear") + (emb == "cls"),
                        "top5": 100.0,
                        "chance_top1": 30.0,
                        "n_classes": 4,
                        "n_train": 150,
                        "n_test": 50,
                        "random_init": random_init,
                    }
                )
    pd.DataFrame(rows).to_csv(folder / "accuracy.csv", index=False)
    figures = [
        png(folder / f"{n}.png") for n in ("table", "knn", "linear", "confusion", "mistakes")
    ]
    return {"classify_tables": [str(folder / "accuracy.csv")], "classify_figures": figures}


def render(tmp_path, monkeypatch, *, random_init: bool):
    monkeypatch.chdir(tmp_path)
    inputs = write_run(Path("."), random_init=random_init)
    inputs |= classify_inputs(Path("."), random_init=random_init)
    build_report(
        config=CONFIG,
        inputs=inputs,
        benchmark_root="benchmarks",
        benchmark_patterns=PATTERNS,
        rules=[],
        workflow_dir=str(tmp_path),
        html="index.html",
        ap="ap.csv",
        ct="ct.csv",
    )
    return parse((tmp_path / "index.html").read_text())


def test_accuracy_table_by_model_and_resolution(tmp_path, monkeypatch):
    dom = render(tmp_path, monkeypatch, random_init=True)
    section = dom.by_id("classify")
    table = dom.by_id("classify-frames")
    header = [th.text for th in table.find_all("th")]
    assert header == ["method", "embedding", "setting", "vits14 56", "vits14 112"]
    rows = table.find_all("tr")[1:]
    assert len(rows) == 4 and all("random" in r.classes for r in rows)
    best = [td for td in table.find_all("td") if "best" in td.classes]
    assert [b.text for b in best] == ["56.0 (100.0)"]  # linear cls at 112: 40 + 14 + 2
    assert "chance" in section.text and "30.0%" in section.text
    assert len(section.find_all("img")) == 5
    assert "classification rows of vits14" in dom.by_id("random-banner").text


def test_no_classification_gives_a_note(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = write_run(Path("."), random_init=False)
    build_report(
        config=CONFIG,
        inputs=inputs,
        benchmark_root="benchmarks",
        benchmark_patterns=PATTERNS,
        rules=[],
        workflow_dir=str(tmp_path),
        html="index.html",
        ap="ap.csv",
        ct="ct.csv",
    )
    dom = parse((tmp_path / "index.html").read_text())
    assert not dom.by_id("classify").find_all("table")
