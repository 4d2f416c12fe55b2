"""The aggregated report: its pure functions on small tables, and the page of a real run."""

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from fmeval.errors import DataError
from fmeval.report.costs import match_rule, pattern_regex, read_benchmarks, summarise_costs
from fmeval.report.page import (
    RANDOM_BANNER,
    ap_matrix,
    best_ap,
    build_report,
    ct_long,
    ct_matrix,
    random_weight_sources,
    read_csv,
)

matplotlib.use("Agg")

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
    summary = summarise_costs(jobs).iloc[0]
    assert (summary["rule"], summary["jobs"], summary["total_wall_s"], summary["peak_rss_mb"]) == (
        "extract_features",
        2,
        35.0,
        300.0,
    )


def test_bad_benchmark_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "x.tsv"
    bad.write_text("nothing here\n")
    with pytest.raises(DataError, match="x.tsv"):
        read_benchmarks([str(bad)], patterns={})


# ----------------------------------------------------------------------------- tables


def ap_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for model in ("a", "b"):
        for res in (224, 448):
            for c in (0.01, 0.1, 1.0):
                rows.append(
                    {
                        "model": model,
                        "res": res,
                        "C": c,
                        "mean_ap": rng.uniform(),
                        "sd_ap": 0.01,
                        "n_folds": 5,
                    }
                )
    return pd.DataFrame(rows)


def test_best_ap_picks_the_highest_mean_per_model_and_res():
    ap = ap_table()
    best = best_ap(ap)
    assert len(best) == 4
    for _, row in best.iterrows():
        same = ap[(ap["model"] == row["model"]) & (ap["res"] == row["res"])]
        assert row["mean_ap"] == same["mean_ap"].max()
    wide = ap_matrix(best)
    assert wide.columns.tolist() == ["model", "res 224", "res 448"]
    assert all(
        re.fullmatch(r"\d\.\d{3} ± 0\.010 \(C=[\d.]+\)", v)
        for v in wide[["res 224", "res 448"]].values.ravel()
    )


def ct_cells():
    rows = []
    for method in ("fbp", "tv"):
        for views in (10, 100):
            for noise in ("clean", "low"):
                for metric, mean in (("psnr", 20.0 + views / 10), ("ssim", 0.5)):
                    rows.append(
                        {
                            "method": method,
                            "views": views,
                            "noise": noise,
                            "metric": metric,
                            "mean": mean,
                            "sd": 1.0,
                            "ci_low": mean - 0.5,
                            "ci_high": mean + 0.5,
                            "n": 8,
                        }
                    )
    return pd.DataFrame(rows)


def test_ct_long_and_wide_tables_read_the_same():
    long = ct_cells()
    wide = long.pivot_table(
        index=["method", "views", "noise"],
        columns="metric",
        values=["mean", "sd", "ci_low", "ci_high", "n"],
    )
    wide.columns = [f"{metric}_{stat}" for stat, metric in wide.columns]
    a = ct_long(long).sort_values(["metric", "method", "views", "noise"], ignore_index=True)
    b = ct_long(wide.reset_index()).sort_values(
        ["metric", "method", "views", "noise"], ignore_index=True
    )
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert set(a["metric"]) == {"PSNR", "SSIM"}


def test_ct_matrix_rows_are_noise_by_method():
    table = ct_matrix(ct_long(ct_cells()), "PSNR")
    assert len(table) == 4  # 2 noise levels x 2 methods
    assert table.columns.tolist() == ["noise", "method", "100 views", "10 views"]
    assert table.loc[0, "100 views"] == "30.00 ± 0.50"


def test_ct_half_width_column_gives_the_interval():
    t = pd.DataFrame(
        {
            "method": ["fbp"],
            "views": [10],
            "noise": ["clean"],
            "psnr_mean": [20.0],
            "psnr_ci95": [1.5],
        }
    )
    row = ct_long(t).iloc[0]
    assert (row["lo"], row["hi"]) == (18.5, 21.5)


@pytest.mark.parametrize(
    ("manifests", "tables", "config", "n"),
    [
        ([{"key": "m", "weights": "pretrained", "weights_id": "sha256:ab"}], {}, {}, 0),
        ([{"key": "m", "weights": "random", "weights_id": "random-init"}], {}, {}, 1),
        ([], {"t": pd.DataFrame({"random_init": [False, True]})}, {}, 1),
        ([], {"t": pd.DataFrame({"random_init": ["False", "False"]})}, {}, 0),
        ([], {"t": pd.DataFrame({"weights": ["pretrained", "random"]})}, {}, 1),
        ([], {}, {"ct": {"ram": {"weights": "random"}}}, 1),
        ([], {}, {"ct": {"ram": {"weights": "pretrained"}}}, 0),
    ],
)
def test_random_weights_are_never_silent(manifests, tables, config, n):
    assert len(random_weight_sources(tables=tables, manifests=manifests, config=config)) == n


def test_banner_lines_are_skipped(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("# RANDOM WEIGHTS\n# second line\na,b\n1,#2\n")
    assert read_csv(p).to_dict("list") == {"a": [1], "b": ["#2"]}


# ----------------------------------------------------------------------------- the page


def png(path: Path) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return str(path)


@pytest.mark.parametrize("random_init", [False, True])
def test_page_is_self_contained(tmp_path, monkeypatch, random_init):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text(
        '{"key": "m", "backend": "timm", "name": "n", "patch_size": 14, "weights": "%s", '
        '"weights_id": "%s"}'
        % (("random", "random-init") if random_init else ("pretrained", "sha256:00ff"))
    )
    seg = tmp_path / "results/report/segmentation"
    seg.mkdir(parents=True)
    ap_table().assign(random_init=random_init).to_csv(seg / "ap.csv", index=False)
    pd.DataFrame(
        {"model": ["a"], "res": [224], "image": ["cat"], "ap": [0.9], "iou": [0.7]}
    ).to_csv(seg / "test_scores.csv", index=False)
    ct = tmp_path / "results/report/ct"
    ct.mkdir(parents=True)
    ct_cells().to_csv(ct / "ct.csv", index=False)
    build_report(
        config={"resolutions": [224, 448]},
        model_manifests=["m.json"],
        segmentation_tables=[str(seg / "ap.csv"), str(seg / "test_scores.csv")],
        segmentation_figures=[png(seg / "cat_triptych.png")],
        ct_tables=[str(ct / "ct.csv")],
        ct_figures=[png(ct / "examples.png")],
        benchmark_root="benchmarks",
        benchmark_patterns=PATTERNS,
        html_out="results/report/index.html",
        ap_out="results/report/ap.csv",
        ct_out="results/report/ct.csv",
        figures_dir="results/report/figures",
    )
    page = (tmp_path / "results/report/index.html").read_text()
    srcs = re.findall(r'<img src="([^"]{0,30})', page)  # 4 plots + 2 stage figures
    assert len(srcs) == 6 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(?!data:|#)', page), "the page must not load anything"
    assert ("random-banner" in page) == random_init
    assert (RANDOM_BANNER in page) == random_init
    for section in ("summary", "segmentation", "ct", "cost"):
        assert f'<section id="{section}">' in page
    figures = sorted(p.name for p in (tmp_path / "results/report/figures").iterdir())
    stems = {Path(f).stem for f in figures}
    assert figures == sorted(f"{s}.{e}" for s in stems for e in ("png", "svg"))
    assert {"ap_vs_c", "test_scores", "ct_psnr_vs_views", "ct_ssim_vs_views"} <= stems
    assert (
        read_csv(tmp_path / "results/report/ap.csv")["random_init"].tolist() == [random_init] * 12
    )
    # CT does not use the backbone: its rows are flagged only by CT's own random weights (RAM)
    assert read_csv(tmp_path / "results/report/ct.csv")["random_init"].tolist() == [False] * 16


def test_empty_stages_give_notes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text(
        '{"key": "m", "weights": "pretrained", "weights_id": "sha256:00"}'
    )
    build_report(
        config={},
        model_manifests=["m.json"],
        segmentation_tables=[],
        segmentation_figures=[],
        ct_tables=[],
        ct_figures=[],
        benchmark_root="benchmarks",
        benchmark_patterns={},
        html_out="index.html",
        ap_out="ap.csv",
        ct_out="ct.csv",
        figures_dir="figures",
    )
    page = (tmp_path / "index.html").read_text()
    assert "No segmentation results in this run." in page and "No CT results in this run." in page
    assert read_csv(tmp_path / "ap.csv").columns.tolist() == ["note"]


def test_stage_plots_are_not_drawn_twice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text(
        '{"key": "m", "weights": "pretrained", "weights_id": "sha256:00"}'
    )
    seg = tmp_path / "results/report/segmentation"
    seg.mkdir(parents=True)
    ap_table().to_csv(seg / "ap.csv", index=False)
    build_report(
        config={},
        model_manifests=["m.json"],
        segmentation_tables=[str(seg / "ap.csv")],
        segmentation_figures=[png(seg / "ap_vs_c.png")],
        ct_tables=[],
        ct_figures=[],
        benchmark_root="benchmarks",
        benchmark_patterns={},
        html_out="index.html",
        ap_out="ap.csv",
        ct_out="ct.csv",
        figures_dir="figures",
    )
    assert not (tmp_path / "figures/ap_vs_c.png").exists()
    page = (tmp_path / "index.html").read_text()
    assert page.count("<img") == 1 and "report/segmentation/ap_vs_c.png" in page


def test_video_section_shows_its_table_and_figures(tmp_path):
    from fmeval.report.page import video_section

    jf = pd.DataFrame(
        {"dataset": ["d", "d"], "sequence": ["dog", "mean"], "m @112 propagate": [0.5, 0.5]}
    )
    fig = tmp_path / "strips_d.png"
    matplotlib.pyplot.imsave(fig, np.zeros((4, 4)))
    html = video_section({"jf.csv": jf}, [str(fig), str(tmp_path / "strips_d.svg")])
    assert '<section id="video">' in html and 'id="video-jf"' in html and "dog" in html
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 1
    assert "No video results" in video_section({}, [])
    scores = pd.DataFrame({"sequence": ["dog"], "random_init": [True]})
    assert random_weight_sources(tables={"video/scores.csv": scores}, manifests=[], config={})
