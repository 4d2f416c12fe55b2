"""The video section of the page, from a small per-sequence score table and tiny figures."""

from pathlib import Path

import pandas as pd

from fmeval.report.render import build_report
from unit.report.dom import parse
from unit.report.fixtures import CONFIG, PATTERNS, png, write_run

SEQUENCES = ["blackswan", "dog", "mean"]


def video_inputs(root: Path, *, random_init: bool) -> dict:
    folder = root / "results/report/video"
    folder.mkdir(parents=True)
    rows = []
    for method in ("propagate", "classifier"):
        for i, seq in enumerate(SEQUENCES):
            j, f = 0.5 + i / 10 + (method == "propagate") / 10, 0.4 + i / 10
            rows.append(
                {
                    "dataset": "davis",
                    "model": "vits14",
                    "res": 112,
                    "method": method,
                    "sequence": seq,
                    "object": 1,
                    "J": j,
                    "F": f,
                    "J&F": (j + f) / 2,
                    "random_init": random_init,
                }
            )
    pd.DataFrame(rows).to_csv(folder / "scores.csv", index=False)
    pd.DataFrame({"dataset": ["davis"]}).to_csv(folder / "jf.csv", index=False)
    figures = [png(folder / f"{n}.png") for n in ("j_over_time_davis", "strips_davis")]
    tables = [str(folder / "jf.csv"), str(folder / "scores.csv")]
    return {"video_tables": tables, "video_figures": figures}


def render(tmp_path, monkeypatch, **videos):
    monkeypatch.chdir(tmp_path)
    inputs = write_run(Path("."), random_init=False)
    if videos:
        inputs |= video_inputs(Path("."), **videos)
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


def test_jf_table_by_sequence_and_configuration(tmp_path, monkeypatch):
    dom = render(tmp_path, monkeypatch, random_init=True)
    section = dom.by_id("video")
    table = dom.by_id("video-davis")
    header = [th.text for th in table.find_all("th")]
    assert header == ["sequence", "vits14 @112 classifier", "vits14 @112 propagate"]
    rows = table.find_all("tr")[1:]
    assert [r.find_all("td")[0].text for r in rows] == SEQUENCES  # the mean last
    assert all("random" in r.classes for r in rows)
    # blackswan, propagate: J 0.6, F 0.4, J&F 0.5
    assert rows[0].find_all("td")[2].text == "0.500 (0.600 / 0.400)"
    assert len(section.find_all("img")) == 2
    assert "video rows of vits14" in dom.by_id("random-banner").text


def test_no_video_gives_no_table(tmp_path, monkeypatch):
    dom = render(tmp_path, monkeypatch)
    assert not dom.by_id("video").find_all("table")
