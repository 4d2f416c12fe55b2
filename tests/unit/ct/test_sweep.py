"""The CT config: defaults, and one clear error for each kind of bad input."""

import copy
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake

from fmeval.ct.sweep import TEST_PHANTOMS, check_ct
from fmeval.errors import ConfigError


def default_ct() -> dict:
    return copy.deepcopy(yaml.safe_load((REPO / "config.yaml").read_text())["ct"])


def test_default_grid():
    grid = check_ct(default_ct())
    assert grid.n_phantoms == 32
    assert grid.views == (1000, 500, 200, 100, 50, 20, 10)
    assert {n: (lv.gain, lv.sigma) for n, lv in grid.noise.items()} == {
        "clean": (0, 0),
        "low": (0.001, 0.001),
        "high": (0.01, 0.01),
    }
    assert grid.methods == ("fbp", "ram", "tv")
    assert grid.ram_weights == "pretrained"
    assert grid.examples == (50, 1000, "low")


def test_schema_defaults_match_config_yaml():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    assert schema["properties"]["ct"]["default"]["views"] == default_ct()["views"]
    assert schema["properties"]["ct"]["default"]["noise"] == default_ct()["noise"]
    assert schema["properties"]["ct"]["properties"]["n_phantoms"]["maximum"] == TEST_PHANTOMS


def test_examples_default_to_the_extremes():
    ct = default_ct()
    del ct["examples"]
    assert check_ct(ct).examples == (10, 1000, "clean")


BAD = [
    ("views", [50, 0], "views"),
    ("views", [50, -3], "views"),
    ("views", [50, 50], "repeats"),
    ("noise", {"low": {"gain": -0.001, "sigma": 0.001}}, "gain"),
    ("noise", {"low": {"gain": 0.001, "sigma": -1}}, "sigma"),
    ("methods", ["fbp", "sart"], "unknown CT method 'sart'"),
    ("n_phantoms", TEST_PHANTOMS + 1, "3200"),
    ("n_phantoms", 0, "n_phantoms"),
    ("ram", {"weights": "/nonexistent/ram.pth"}, "does not exist"),
    ("examples", {"sparse_views": 7}, "examples.sparse_views"),
]


@pytest.mark.parametrize("key, value, message", BAD)
def test_bad_input_is_one_config_error(key, value, message):
    ct = default_ct()
    ct[key] = value
    with pytest.raises(ConfigError, match=message):
        check_ct(ct)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("views", [20, 0], "views"),  # caught by the schema
        ("ram", {"weights": "/nonexistent/ram.pth"}, "ct.ram.weights"),  # caught by check_ct
    ],
)
def test_bad_input_stops_snakemake_before_any_job(test_config, tmp_path, key, value, message):
    config = copy.deepcopy(test_config)
    config["ct"][key] = value
    proc = run_snakemake(tmp_path, config, "-n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (Path(tmp_path) / "results").exists()
