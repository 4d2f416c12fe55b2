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
    assert header == ["object", "vits14 @112 classifier", "vits14 @112 propagate"]
    rows = table.find_all("tr")[1:]
    # davis2017's object rows, <sequence>_<object>; the mean last
    assert [r.find_all("td")[0].text for r in rows] == ["blackswan_1", "dog_1", "mean"]
    assert all("random" in r.classes for r in rows)
    # blackswan, propagate: J 0.6, F 0.4, J&F 0.5
    assert rows[0].find_all("td")[2].text == "0.500 (0.600 / 0.400)"
    assert len(section.find_all("img")) == 2
    assert "video rows of vits14" in dom.by_id("random-banner").text
    # the protocol, its sources, its departures and the published figures (issue 25)
    protocol = dom.by_id("video-protocol").text
    assert "dino protocol" in protocol and "eval_video_segmentation.py" in protocol
    assert "Caron et al." in protocol and "temperature 0.1" in protocol
    departures = [li.text for li in dom.by_id("video-departures").find_all("li")]
    assert any(d.startswith("void (palette index 255)") for d in departures)
    published = dom.by_id("video-published")
    assert "published, not measured here" in published.text
    cells = [tr.find_all("td")[:2] for tr in published.find_all("tr")[1:]]
    assert [(a.text, b.text) for a, b in cells] == [
        ("DINO ViT-S/16", "61.8"),
        ("DINO ViT-B/16", "62.3"),
        ("DINO ViT-S/8", "69.9"),
        ("DINO ViT-B/8", "71.4"),
    ]


def test_no_video_gives_no_table(tmp_path, monkeypatch):
    dom = render(tmp_path, monkeypatch)
    assert not dom.by_id("video").find_all("table")
