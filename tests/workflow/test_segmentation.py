"""Integration: the segmentation branch on the DAVIS frames at random init (train on the 15
pairs, test on test/ with its masks), its incremental reruns, and its config errors.

The whole run is conftest's session fixture ``full_run`` (shared with the report tests);
the rerun tests are dry runs in that folder, which restore its config.yaml afterwards.
"""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import load_test_config, run_snakemake, run_with_config, scheduled_jobs
from PIL import Image

from fmeval.io.tables import read_meta
from fmeval.seg.fit import load_probe

pytestmark = pytest.mark.integration

DMR = "davis/dinov2_vits14"
TEST_IMAGES = ["camel-00060", "dog-00040"]
RESOLUTIONS = [224, 448]
N_TRAIN = 15
CS = [0.01, 0.1, 1.0]
# Downstream of everything: the aggregated HTML report (issue 5) and the target rule.
REPORT_RULES = {"build_report", "all"}


def dry_run(workdir, change=None) -> dict[str, int]:
    """The jobs a dry run schedules in ``workdir`` after ``change(config)``."""
    config = load_test_config()
    if change:
        change(config)
    return scheduled_jobs(run_with_config(workdir, config, "-n"))


@pytest.fixture(scope="module")
def baseline(full_run) -> dict[str, int]:
    """What a dry run schedules with no change: nothing of this stage, nor upstream of it.

    (Empty after a whole run; other stages' jobs appear here only while their rules change
    under a shared checkout, and the rerun tests below count jobs beyond this baseline.)
    """
    jobs = dry_run(full_run)
    assert not set(jobs) & (SEGMENTATION_RULES | UPSTREAM_RULES)
    return jobs


def added(jobs: dict[str, int], baseline: dict[str, int]) -> dict[str, int]:
    """Jobs a change schedules beyond the baseline, the report and `all` aside."""
    out = {rule: n - baseline.get(rule, 0) for rule, n in jobs.items() if rule not in REPORT_RULES}
    return {rule: n for rule, n in out.items() if n}


SEGMENTATION_RULES = {
    "cross_validate_probe",
    "fit_probe",
    "segment_test_images",
    "render_pca",
    "render_attention",
    "report_segmentation",
}
UPSTREAM_RULES = {"download_dataset", "fetch_model", "extract_features"}


def test_cv_tables(full_run):
    for res in RESOLUTIONS:
        path = full_run / f"results/probe/{DMR}/{res}/cv.parquet"
        cv = pq.read_table(path).to_pandas()
        meta = read_meta(path)
        assert meta["random_init"] is True and meta["weights"] == "random-init" and meta["cs"] == CS
        assert len(cv) == N_TRAIN * len(CS) and set(cv["C"]) == set(CS)
        assert cv["image"].nunique() == N_TRAIN
        scored = cv[~cv["skipped"]]
        assert scored["ap"].between(0, 1).all() and len(scored) >= len(CS)
        assert cv.loc[cv["skipped"], "ap"].isna().all()
        assert (cv.loc[cv["skipped"], "reason"].str.len() > 0).all()
        # each patch is held out exactly once per C
        per_c = cv.groupby("C")["n_test"].sum()
        assert per_c.nunique() == 1
        assert (cv["n_train"] + cv["n_test"] == per_c.iloc[0]).all()
        summary = json.loads((full_run / f"results/probe/{DMR}/{res}/summary.json").read_text())
        means = {p["C"]: p["mean_ap"] for p in summary["per_c"]}
        assert summary["best_c"] == max(means, key=means.get)
        assert summary["random_init"] is True
        probe = load_probe(full_run / f"results/probe/{DMR}/{res}/probe.npz")
        assert probe.c == summary["best_c"] and probe.meta["random_init"] is True
        assert probe.coef.shape == (384,)


def test_report_tables_and_plots(full_run):
    out = full_run / "results/report/segmentation"
    ap = pd.read_csv(out / "ap.csv")
    assert list(ap.columns[:7]) == ["dataset", "model", "res", "C", "mean_ap", "sd_ap", "n_folds"]
    assert len(ap) == len(RESOLUTIONS) * len(CS)
    assert ap["random_init"].all() and (ap["weights"] == "random-init").all()
    assert (ap["n_folds"] + ap["n_skipped"] == N_TRAIN).all()
    cv = pq.read_table(full_run / f"results/probe/{DMR}/448/cv.parquet").to_pandas()
    row = ap[(ap.res == 448) & (ap.C == 0.1)].iloc[0]
    folds = cv[(cv.C == 0.1) & ~cv.skipped]["ap"]
    assert row.mean_ap == pytest.approx(folds.mean()) and row.sd_ap == pytest.approx(
        folds.std(ddof=1)
    )
    best = pd.read_csv(out / "ap_best.csv")
    assert sorted(best["res"]) == RESOLUTIONS and best["random_init"].all()
    for r in best.itertuples():
        summary = json.loads((full_run / f"results/probe/{DMR}/{r.res}/summary.json").read_text())
        assert r.C == summary["best_c"]
    test = pd.read_csv(out / "test_scores.csv")
    assert len(test) == len(RESOLUTIONS) * len(TEST_IMAGES)
    assert set(test["image"]) == set(TEST_IMAGES) and test["has_mask"].all()
    assert test["ap"].between(0, 1).all() and test["iou"].between(0, 1).all()
    assert test["random_init"].all()
    for stem in ("ap_vs_c", "best_ap_vs_res"):
        assert Image.open(out / f"{stem}.png").size[0] > 200
        assert "RANDOM-INIT" in (out / f"{stem}.svg").read_text()


def test_triptychs_and_pca_renders(full_run):
    for res in RESOLUTIONS:
        for image in TEST_IMAGES:
            scores = json.loads(
                (full_run / f"results/segment/{DMR}/{res}/{image}.json").read_text()
            )
            assert (
                scores["has_mask"]
                and scores["median_filter"] is True
                and scores["random_init"] is True
            )
            rows, cols = read_meta(full_run / f"results/features/{DMR}/{res}.parquet")["grids"][
                image
            ]
            assert scores["n_patches"] == rows * cols and rows == res // 14
            assert 0 <= scores["ap"] <= 1
            with Image.open(full_run / f"results/segment/{DMR}/{res}/{image}.png") as png:
                assert png.size[0] > 3 * png.size[1] / 2  # three panels side by side
            info = json.loads((full_run / f"results/pca/{DMR}/{res}/{image}.json").read_text())
            assert len(info["explained_variance_all"]) == 3
            assert sum(info["explained_variance_all"]) <= 1 + 1e-9
            # random weights rarely give 3 foreground patches: then the render says so
            assert info["foreground_pca"] == (info["n_foreground"] >= 3)
            assert bool(info["note"]) != info["foreground_pca"]
            with Image.open(full_run / f"results/pca/{DMR}/{res}/{image}.png") as png:
                assert np.asarray(png).std() > 0


def test_changing_cs_reruns_the_probe_branch_and_no_features(full_run, baseline):
    jobs = dry_run(full_run, lambda c: c["probe"].update(cs=[0.1, 1.0, 10.0]))
    n = len(RESOLUTIONS)
    assert added(jobs, baseline) == {
        "cross_validate_probe": n,
        "fit_probe": n,
        "segment_test_images": n,  # one job per cell, for all its test images
        "render_pca": n,
        "report_segmentation": 1,
    }
    assert "extract_features" not in jobs


def test_changing_the_median_filter_reruns_segmentation_only(full_run, baseline):
    jobs = dry_run(full_run, lambda c: c["segment"].update(median_filter=False))
    assert added(jobs, baseline) == {
        "segment_test_images": len(RESOLUTIONS),
        "report_segmentation": 1,
    }


def test_attention_switch_adds_only_attention_jobs(full_run, baseline):
    jobs = dry_run(full_run, lambda c: c["pca"].update(attention_maps=True))
    assert added(jobs, baseline) == {"render_attention": len(RESOLUTIONS)}


@pytest.mark.parametrize("cs", [[], [0.0, 1.0]])
def test_bad_c_grid_is_a_config_error(tmp_path, test_config, cs):
    test_config["probe"]["cs"] = cs
    proc = run_snakemake(tmp_path, test_config, "-n", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config error: probe.cs" in text
    assert not scheduled_jobs(proc)


def test_attention_maps_rule(full_run):
    """The optional GPU-tagged rule, run for one cell in the whole run's folder (on CPU here)."""
    config = load_test_config()
    config["pca"]["attention_maps"] = True
    target = f"results/attention/{DMR}/224"
    # a flag ends --configfile's list of files, so the target is taken as a target
    proc = run_with_config(full_run, config, "--keep-going", target)
    assert scheduled_jobs(proc) == {"render_attention": 1}
    assert sorted(p.name for p in (full_run / target).glob("*.png")) == sorted(
        f"{image}.png" for image in TEST_IMAGES
    )
    with Image.open(full_run / target / "camel-00060.png") as png:
        assert png.size[0] > 400 and np.asarray(png).std() > 0
    assert (full_run / f"benchmarks/attention/{DMR}/224.tsv").exists()
