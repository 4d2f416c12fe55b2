"""The aggregated report of a real run of the test config."""

import zipfile

import pytest
from conftest import run_snakemake, scheduled_jobs


@pytest.mark.integration
def test_run_produces_the_report(full_run):
    report = full_run / "results/report"
    assert (report / "index.html").stat().st_size > 10_000
    for name in ("ap.csv", "ct.csv"):
        assert (report / name).is_file()
    figures = list((report / "figures").glob("*.png"))
    assert figures and all(p.with_suffix(".svg").is_file() for p in figures)
    page = (report / "index.html").read_text()
    assert "random-banner" in page  # the test config uses random weights


@pytest.mark.integration
def test_nothing_to_do_after_the_run(full_run):
    proc = run_snakemake(full_run, None, "-n", "--configfile", str(full_run / "config.yaml"))
    assert scheduled_jobs(proc) == {}


@pytest.mark.integration
def test_snakemake_report_zip(full_run):
    run_snakemake(
        full_run, None, "--report", "report.zip", "--configfile", str(full_run / "config.yaml")
    )
    with zipfile.ZipFile(full_run / "report.zip") as z:
        names = z.namelist()
    assert "report/report.html" in names
    for name in ("index.html", "ap.csv", "ct.csv", "cost.png"):  # the zip keeps only base names
        assert any(n.endswith(f"/{name}") for n in names), name
