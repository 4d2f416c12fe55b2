"""The report after a whole run of the test config: the page, its tables, Snakemake's report."""

import re
import zipfile

import pandas as pd
import pytest
from conftest import run_snakemake, scheduled_jobs

pytestmark = pytest.mark.integration


def test_run_produces_the_report(full_run):
    report = full_run / "results/report"
    page = (report / "index.html").read_text()
    assert len(page) > 10_000 and "random-banner" in page  # the test config uses random weights
    assert "chance_ap" in pd.read_csv(report / "ap.csv").columns
    ct = pd.read_csv(report / "ct.csv")
    assert ct.groupby(["noise", "method"])["views"].apply(lambda v: v.is_monotonic_increasing).all()


def test_every_rule_that_ran_has_a_benchmark(full_run):
    page = (full_run / "results/report/index.html").read_text()
    missing = re.search(r'id="cost-missing">No benchmark file yet for: ([^(]*)\(', page)
    # only the report itself (its benchmark is written after the page) and the optional
    # attention maps (off in the test config) may lack one
    names = {n.strip() for n in missing.group(1).split(",")} if missing else set()
    assert names <= {"build_report", "render_attention"}
    assert {"features", "probe", "segment", "pca", "ct", "report", "datasets"} <= {
        p.relative_to(full_run).parts[1] for p in (full_run / "benchmarks").rglob("*.tsv")
    }


def test_nothing_to_do_after_the_run(full_run):
    proc = run_snakemake(full_run, None, "-n", "--configfile", str(full_run / "config.yaml"))
    assert scheduled_jobs(proc) == {}


def test_snakemake_report_zip(full_run):
    run_snakemake(
        full_run, None, "--report", "report.zip", "--configfile", str(full_run / "config.yaml")
    )
    with zipfile.ZipFile(full_run / "report.zip") as z:
        names = z.namelist()
        assert "report/report.html" in names
        for name in ("index.html", "ap.csv", "ct.csv"):  # the zip keeps only base names
            assert any(n.endswith(f"/{name}") for n in names), name
        text = z.read("report/report.html").decode()
    for label in ("dataset", "model", "resolution", "image"):  # per-image figures' labels
        assert f'"{label}"' in text, label
