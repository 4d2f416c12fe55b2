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


@pytest.mark.integration
@pytest.mark.parametrize(
    ("key", "data", "problem"),
    [
        ("models.dinov2_vits14.weights", b"", "is empty (0 bytes)"),
        ("ct.ram.weights", b"<html>404 Not Found</html>", "does not start like a checkpoint"),
    ],
)
def test_a_weights_file_that_is_no_checkpoint_stops_the_dry_run(
    test_config, tmp_path, key, data, problem
):
    """An empty file, or an error page saved as the checkpoint, is one line at plan time
    (the full, safe load stays in the fetch job)."""
    weights = tmp_path / "weights.pth"
    weights.write_bytes(data)
    config = copy.deepcopy(test_config)
    if key == "ct.ram.weights":
        config["ct"]["ram"]["weights"] = str(weights)
    else:
        config["models"]["dinov2_vits14"]["weights"] = str(weights)
    proc = run_snakemake(tmp_path / "work", config, "-n", check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "config error" in line]
    assert lines == [
        f"config error: `{key}` is {str(weights)!r}, which {problem}"
        + lines[0].split(problem, 1)[1]
    ]
    assert lines[0].endswith(
        "; point it at the checkpoint file itself (download it again if it was cut short)"
    )
    assert "Traceback" not in proc.stderr
