"""Each config value is checked once: the schema for single fields, check_config for the rules
that tie fields together; ct_grid then only types the values."""

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from fmeval.config import check_config
from fmeval.ct.sweep import TEST_PHANTOMS, ct_grid
from fmeval.errors import ConfigError

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def main_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def validated(config: dict) -> dict:
    """``config`` as the workflow sees it: validated, with the schema's defaults filled in."""
    config = copy.deepcopy(config)
    validate(config, schema=SCHEMA)
    return config


def test_default_grid():
    grid = ct_grid(validated(main_config())["ct"])
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
    ct = main_config()["ct"]
    assert schema["properties"]["ct"]["default"]["views"] == ct["views"]
    assert schema["properties"]["ct"]["default"]["noise"] == ct["noise"]
    for key in ("tv", "fbp", "tune"):  # issue 26
        assert schema["properties"]["ct"]["default"][key] == ct[key], key
    assert schema["properties"]["ct"]["properties"]["n_phantoms"]["maximum"] == TEST_PHANTOMS


def test_examples_default_to_the_extremes():
    config = main_config()
    del config["ct"]["examples"]
    assert ct_grid(validated(config)["ct"]).examples == (10, 1000, "clean")


def test_missing_sections_take_the_schema_defaults():
    config = main_config()
    del config["ct"]["tv"], config["ct"]["ram"], config["ct"]["seed"]
    del config["ct"]["fbp"], config["ct"]["tune"]
    grid = ct_grid(validated(config)["ct"])
    tv, fbp = grid.options["tv"], grid.options["fbp"]
    assert (tv["lam"], tv["n_iter"], tv["prox_iter"], grid.seed) == ("tune", 100, 20, 0)
    assert tv["tol"] == 0.001 and (fbp["window"], fbp["frequency_scaling"]) == ("tune", "tune")
    assert grid.options["ram"] == {}
    assert grid.tune["n_validation"] == 4 and grid.tune["lam_grid"] == 5
    assert grid.ram_weights == "pretrained"


SINGLE_FIELD = [
    (("ct", "views"), [50, 0]),
    (("ct", "views"), [50, -3]),
    (("ct", "views"), [50, 50]),
    (("ct", "noise"), {"low": {"gain": -0.001, "sigma": 0.001}}),
    (("ct", "noise"), {"low": {"gain": 0.001, "sigma": -1}}),
    (("ct", "methods"), ["fbp", "sart"]),
    (("ct", "n_phantoms"), TEST_PHANTOMS + 1),
    (("ct", "n_phantoms"), 0),
    (("ct", "tv", "lam"), "auto"),  # issue 26: a number or `tune`
    (("ct", "fbp", "window"), "parzen"),
    (("ct", "fbp", "frequency_scaling"), 0),
    (("ct", "tune", "lam_range"), [0, 0.1]),
    (("ct", "tune", "n_validation"), 0),
    (("probe", "cs"), []),
    (("probe", "cs"), [0.0]),
    (("probe", "cs"), [-1.0, 1.0]),
    (("probe", "cs"), ["big"]),
    (("probe", "cs"), [0.1, 0.1]),
    (("probe", "fg_threshold"), 1.5),
    (("probe", "bg_threshold"), -0.1),
    (("resolutions",), [224, 0]),
]


@pytest.mark.parametrize(("path", "value"), SINGLE_FIELD)
def test_single_fields_are_refused_by_the_schema(path, value):
    config = main_config()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError):
        validated(config)


CROSS_FIELD = [
    (("resolutions",), [224, 225], r"resolution 225 is not a multiple of the patch size 14"),
    (("resolutions",), [100], r"resolution 100 .* e\.g\. 84, 98 or 112"),
    (("probe", "bg_threshold"), 0.995, r"probe.bg_threshold \(0.995\) must be below"),
    (("ct", "examples", "sparse_views"), 7, r"ct.examples.sparse_views is 7"),
    (("ct", "examples", "noise"), "loud", r"ct.examples.noise is 'loud'"),
    (("ct", "tune", "lam_range"), [0.1, 0.001], r"ct.tune.lam_range is \[0.1, 0.001\]; give"),
]


@pytest.mark.parametrize(("path", "value", "message"), CROSS_FIELD)
def test_cross_field_rules_are_one_config_error(path, value, message):
    config = validated(main_config())
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        check_config(config)


def test_the_resolution_hint_fits_every_model():
    """With a /14 and a /16 model, the hint names multiples of both (their lcm, 112), and what
    a resolution is (the image height), with the grid it gives on a DAVIS frame."""
    config = validated(main_config())
    config["models"]["dinov3_vits16"] = {"patch_size": 16, "weights": "random"}
    config["resolutions"] = [224, 280]
    with pytest.raises(ConfigError) as info:
        check_config(config)
    message = str(info.value)
    assert message.startswith(
        "resolution 280 is not a multiple of the patch size 16 of model 'dinov3_vits16'; use a "
        "multiple of 112 (the least common multiple of the models' patch sizes 14, 16"
    )
    assert "e.g. 224, 336 or 448" in message and "\n" not in message
    assert "the height in pixels" in message
    assert "224 gives a patch grid of 16 x 28 for patch size 14 and 14 x 24 for patch size 16" in (
        message
    )
    for suggested in (224, 336, 448):  # every suggestion passes for both models
        config["resolutions"] = [suggested]
        check_config(config)


def test_the_shipped_configs_pass(test_config):
    check_config(validated(main_config()))
    check_config(validated(test_config))
