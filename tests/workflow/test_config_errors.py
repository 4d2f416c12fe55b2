"""A bad config stops snakemake at plan time, before any job runs."""

import copy
from pathlib import Path

import pytest
from conftest import run_snakemake


@pytest.mark.integration
@pytest.mark.parametrize(
    "key, value, message",
    [
        ("views", [20, 0], "views"),  # caught by the schema
        ("ram", {"weights": "/nonexistent/ram.pth"}, "ct.ram.weights"),  # by check_config
    ],
)
def test_bad_input_stops_snakemake_before_any_job(test_config, tmp_path, key, value, message):
    config = copy.deepcopy(test_config)
    config["ct"][key] = value
    proc = run_snakemake(tmp_path, config, "-n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (Path(tmp_path) / "results").exists()
