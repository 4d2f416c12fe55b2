"""The CT branch end to end on a tiny grid (RAM random-init), its flags, and incremental reruns.

One real run (module fixture) feeds every test here; the incremental tests are dry runs
against it, and a second real run in another folder checks that metrics are reproducible.
"""

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import load_test_config, run_snakemake, scheduled_jobs

from fmeval.features.store import is_random_init
from fmeval.io.tables import read_meta

pytestmark = pytest.mark.integration

TARGET = "results/report/ct/ct.csv"
REPORT_FILES = [
    f"results/report/ct/{name}.{ext}"
    for name in ("psnr_vs_views", "ssim_vs_views", "examples_sparse", "examples_dense")
    for ext in ("png", "svg")
]


def tiny_config() -> dict:
    config = load_test_config()
    config["ct"] = {
        "n_phantoms": 2,
        "views": [20, 10],
        "noise": {"low": {"gain": 0.001, "sigma": 0.001}},
        "methods": ["fbp", "ram", "tv"],
        "ram": {"weights": "random"},
        "tv": {"lam": "tune", "n_iter": 10, "tol": 0.01, "prox_iter": 10},
        "fbp": {"window": "tune", "frequency_scaling": "tune"},
        "tune": {
            "n_validation": 1,
            "lam_range": [0.001, 0.1],
            "lam_grid": 2,
            "lam_refine": 1,
            "windows": ["ram-lak", "hann"],
            "frequency_scalings": [0.5, 1.0],
        },
        "seed": 0,
    }
    return config


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("ct_run")
    run_snakemake(
        workdir, tiny_config(), "--forceall", TARGET
    )  # --forceall ends --configfile's list
    return workdir


def dry_run(workdir: Path, config: dict) -> dict[str, int]:
    return scheduled_jobs(run_snakemake(workdir, config, "-n", TARGET))


def test_the_grid_runs_end_to_end(ct_run):
    metrics = pq.read_table(ct_run / "results/ct/metrics.parquet").to_pandas()
    assert len(metrics) == 3 * 2 * 1 * 2  # methods x views x noise x phantoms
    assert set(metrics.columns) >= {
        "method",
        "views",
        "noise",
        "phantom",
        "psnr",
        "ssim",
        "weights",
        "random_init",
    }
    table = pd.read_csv(ct_run / TARGET)
    assert len(table) == 6 and set(table["n"]) == {2}
    for stat in ("mean", "sd", "ci_low", "ci_high"):
        assert table[f"psnr_{stat}"].notna().all() and table[f"ssim_{stat}"].notna().all()
    for path in REPORT_FILES:
        assert (ct_run / path).stat().st_size > 0, path
    for method in ("fbp", "ram", "tv"):
        assert (ct_run / f"benchmarks/ct/reconstructions/{method}/low/20.tsv").is_file()


def test_random_ram_is_flagged_in_every_output(ct_run):
    assert is_random_init(ct_run / "results/ct/metrics.parquet")
    assert "random-init" in read_meta(ct_run / "results/ct/metrics.parquet")["weights"]
    metrics = pq.read_table(ct_run / "results/ct/metrics.parquet").to_pandas()
    ram = metrics["method"] == "ram"
    assert (
        metrics.loc[ram, "random_init"].all()
        and (metrics.loc[ram, "weights"] == "random-init").all()
    )
    assert not metrics.loc[~ram, "random_init"].any()
    table = pd.read_csv(ct_run / TARGET)
    assert table.loc[table["method"] == "ram", "random_init"].all()
    meta = json.loads((ct_run / "results/ct/reconstructions/ram/low/10.json").read_text())
    assert meta["random_init"] is True and "random-init" in meta["banner"]
    assert "RANDOM" in (ct_run / "logs/ct/reconstructions/ram/low/10.log").read_text()
    for path in REPORT_FILES:
        if path.endswith(".svg"):
            assert "RANDOM" in (ct_run / path).read_text(), path


def test_two_runs_give_identical_metric_tables(ct_run, tmp_path):
    run_snakemake(tmp_path, tiny_config(), "--forceall", "results/ct/metrics.parquet")
    first = pq.read_table(ct_run / "results/ct/metrics.parquet")
    second = pq.read_table(tmp_path / "results/ct/metrics.parquet")
    assert first.equals(second)
    assert read_meta(ct_run / "results/ct/metrics.parquet") == read_meta(
        tmp_path / "results/ct/metrics.parquet"
    )


def test_nothing_to_do_when_nothing_changed(ct_run):
    assert dry_run(ct_run, tiny_config()) == {}


def test_a_new_view_count_schedules_only_its_cells(ct_run):
    config = tiny_config()
    config["ct"]["views"].append(30)
    assert dry_run(ct_run, config) == {
        "measure_operator": 1,
        "simulate_sinograms": 1,
        "tune_baseline": 2,
        "reconstruct_sinograms": 3,
        "score_reconstructions": 1,
        "report_ct": 1,
    }


def test_a_new_noise_level_schedules_only_its_cells(ct_run):
    config = tiny_config()
    config["ct"]["noise"]["clean"] = {"gain": 0, "sigma": 0}
    assert dry_run(ct_run, config) == {
        "simulate_sinograms": 2,
        "tune_baseline": 4,
        "reconstruct_sinograms": 6,
        "score_reconstructions": 1,
        "report_ct": 1,
    }


def test_changing_tv_lam_reruns_only_tv(ct_run):
    config = tiny_config()
    config["ct"]["tv"]["lam"] = 0.02
    proc = run_snakemake(ct_run, config, "-n", TARGET)
    assert scheduled_jobs(proc) == {
        "reconstruct_sinograms": 2,
        "score_reconstructions": 1,
        "report_ct": 1,
    }
    assert (
        "method=tv" in proc.stdout
        and "method=fbp" not in proc.stdout
        and "method=ram" not in proc.stdout
    )


def test_more_phantoms_keep_the_operator_norms(ct_run):
    config = tiny_config()
    config["ct"]["n_phantoms"] = 4
    jobs = dry_run(ct_run, config)
    assert "measure_operator" not in jobs
    assert jobs["make_phantoms"] == 1 and jobs["simulate_sinograms"] == 2
    assert "tune_baseline" not in jobs  # the test phantoms do not retune


def test_more_validation_phantoms_retune_and_a_tv_search_change_retunes_only_tv(ct_run):
    config = tiny_config()
    config["ct"]["tune"]["n_validation"] = 2
    jobs = dry_run(ct_run, config)
    assert jobs["make_phantoms"] == 1 and jobs["tune_baseline"] == 4  # fbp, tv x 2 views
    config = tiny_config()
    config["ct"]["tune"]["lam_grid"] = 3
    proc = run_snakemake(ct_run, config, "-n", TARGET)
    assert scheduled_jobs(proc) == {
        "tune_baseline": 2,
        "reconstruct_sinograms": 2,
        "score_reconstructions": 1,
        "report_ct": 1,
    }
    assert "method=fbp" not in proc.stdout


def test_tuned_settings_iterations_and_paired_differences_reach_the_table(ct_run):
    table = pd.read_csv(ct_run / TARGET).set_index(["method", "views"])
    for views in (10, 20):
        record = json.loads((ct_run / f"results/ct/tuning/tv/low/{views}.json").read_text())
        assert table.loc[("tv", views), "setting"] == f"lam={record['chosen']['lam']:.3g}"
        assert record["validation_ids"] == ["validation:0"] and record["n_evaluations"] == 3
        assert table.loc[("fbp", views), "tuned"] and table.loc[("tv", views), "tuned"]
        assert 1 <= table.loc[("tv", views), "iter_max"] <= 10
        assert table.loc[("ram", views), "psnr_baseline"] in ("fbp", "tv")
        assert table[["psnr_diff_ci_low", "psnr_diff_ci_high"]].notna().all().all()
    meta = read_meta(ct_run / "results/ct/metrics.parquet")
    assert meta["phantom_ids"] == ["test:0", "test:1"]
    assert meta["validation_ids"] == ["validation:0"]
