"""What each job cost: benchmark files read, named by their rule and summarised."""

from pathlib import Path

import pandas as pd
import pytest

from fmeval.errors import DataError
from fmeval.report.costs import (
    elapsed_s,
    extraction_rates,
    match_rule,
    method_costs,
    pattern_regex,
    read_benchmarks,
    stage_times,
    summarise_costs,
)

BENCH = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
PATTERNS = {
    "extract_features": "benchmarks/features/{dataset}/{model}/{res}.tsv",
    "reconstruct": "benchmarks/ct/reconstruct/{method}/{views}/{noise}.tsv",
}


# ----------------------------------------------------------------------------- costs


@pytest.mark.parametrize(
    ("path", "rule", "job"),
    [
        (
            "benchmarks/features/davis/vits14/224.tsv",
            "extract_features",
            "dataset=davis, model=vits14, res=224",
        ),
        (
            "benchmarks/ct/reconstruct/tv/50/low.tsv",
            "reconstruct",
            "method=tv, views=50, noise=low",
        ),
        ("benchmarks/probe/davis/m/224/cv.tsv", "probe", "davis/m/224/cv"),
        ("benchmarks/features/davis/extra/vits14/224.tsv", "features", "davis/extra/vits14/224"),
    ],
)
def test_benchmark_paths_name_their_rule(path, rule, job):
    assert match_rule(path, PATTERNS) == (rule, job)


def test_pattern_regex_repeated_wildcard_must_agree():
    rx = pattern_regex("b/{x}/{x}.tsv")
    assert rx.match("b/a/a.tsv") and not rx.match("b/a/c.tsv")


def test_costs_read_and_summarised(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = {
        "224": "10.0\t0:00:10\t100.5\t1\t1\t1\t0\t0\t90\t9.0\n",
        "448": (
            "30.0\t0:00:30\t300.0\t1\t1\t1\t0\t0\t90\t29.0\n"
            "20.0\t0:00:20\t250\t1\t1\t1\t0\t0\t90\t19\n"
        ),
    }
    paths = []
    for res, body in rows.items():
        p = Path(f"benchmarks/features/davis/m/{res}.tsv")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(BENCH + body)
        paths.append(str(p))
    jobs = read_benchmarks(paths, patterns=PATTERNS)
    assert jobs["wall_s"].tolist() == [10.0, 25.0]  # repeats are averaged
    assert jobs["max_rss_mb"].tolist() == [100.5, 300.0]  # and memory is the peak
    summary = summarise_costs(jobs, rules=["fit_probe"]).iloc[0]
    assert (summary["rule"], summary["jobs"], summary["total_wall_s"], summary["peak_rss_mb"]) == (
        "extract_features",
        2,
        35.0,
        300.0,
    )

    assert summarise_costs(jobs, rules=["fit_probe"])["rule"].tolist() == [
        "extract_features",
        "fit_probe",  # every rule has a row, with 0 jobs when it left no benchmark
    ]
    assert stage_times(jobs).to_dict("records") == [
        {"stage": "features", "jobs": 2, "wall_s": 35.0}
    ]


@pytest.mark.parametrize("body", ["nothing here\n", "s\tmax_rss\n1\t2\n"])
def test_bad_benchmark_file_is_one_clear_error(tmp_path, body):
    bad = tmp_path / "x.tsv"
    bad.write_text(body)
    with pytest.raises(DataError, match="x.tsv"):
        read_benchmarks([str(bad)], patterns={})


def test_ct_cost_per_method():
    jobs = pd.DataFrame(
        {
            "rule": ["reconstruct"] * 3 + ["other"],
            "job": [f"method={m}, views=10, noise=low" for m in ("tv", "tv", "fbp")] + ["x"],
            "wall_s": [10.0, 30.0, 1.0, 99.0],
            "max_rss_mb": [5.0, 7.0, 1.0, 1.0],
        }
    )
    table = method_costs(jobs, rule="reconstruct", n_items=4).set_index("method")
    assert table.loc["tv", "jobs"] == 2 and table.loc["tv", "total_wall_s"] == 40.0
    assert table.loc["tv", "wall_s_per_item"] == 20.0 / 4
    assert table.loc["fbp", "peak_rss_mb"] == 1.0


def test_elapsed_runs_from_first_start_to_last_end():
    jobs = pd.DataFrame({"end": [100.0, 130.0], "wall_s": [50.0, 10.0]})
    assert elapsed_s(jobs) == 130.0 - 50.0


def test_images_per_second_of_extraction_jobs():
    jobs = pd.DataFrame(
        {
            "rule": ["extract_features", "extract_features_variant", "extract_features", "fit"],
            "job": [
                "dataset=d, model=m, res=224",
                "dataset=d, model=m, res=224, transform=classification, tap=last-norm",
                "dataset=gone, model=m, res=224",
                "dataset=d, model=m, res=224",
            ],
            "wall_s": [10.0, 4.0, 1.0, 1.0],
        }
    )
    grids = {f"im{i}": [16, 16] for i in range(20)}
    metas = [
        {"dataset": "d", "model": "m", "res": 224, "grids": grids},
        {"dataset": "d", "model": "m", "res": 224, "grids": dict(list(grids.items())[:8]),
         "transform": "classification", "tap": "last-norm"},
    ]  # fmt: skip
    table = extraction_rates(jobs, metas)
    assert list(table["rule"]) == ["extract_features", "extract_features_variant"]
    assert list(table["images"]) == [20, 8]
    assert list(table["images_per_s"]) == [2.0, 2.0]
    assert extraction_rates(jobs, []).empty
