"""One spelling per experiment (fmeval.canon): the canonical config and params."""

import copy
import inspect
import random

import yaml
from conftest import REPO
from snakemake.utils import validate
from spelling import respell

from fmeval.canon import (
    EXECUTION_SETTINGS,
    canonical,
    canonical_config,
    canonical_param,
    without_execution_settings,
)
from fmeval.config import load_schema

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def as_workflow(config: dict) -> dict:
    """``config`` as rules/common.smk makes it: validated (defaults filled in), canonical."""
    config = copy.deepcopy(config)
    validate(config, schema=SCHEMA)
    return canonical_config(config, load_schema())


def test_every_spelling_of_the_test_configs_is_one_config():
    for path in sorted((REPO / "config").glob("test*.yaml")):
        config = yaml.safe_load(path.read_text())
        reference = as_workflow(config)
        rng = random.Random(path.name)
        for _ in range(5):
            spelt = respell(config, load_schema(), rng)
            assert as_workflow(spelt) == reference, path.name
            assert repr(as_workflow(spelt)) == repr(reference)  # key order included


def test_numbers_follow_the_schema_and_keys_are_sorted():
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["probe"]["cs"] = [0.01, 0.1, 1]  # number: 1 is 1.0
    config["probe"]["max_iter"] = 10000.0  # integer: 10000.0 is 10000
    out = as_workflow(config)
    assert out["probe"]["cs"] == [0.01, 0.1, 1.0] and isinstance(out["probe"]["cs"][2], float)
    assert isinstance(out["probe"]["max_iter"], int)
    assert isinstance(out["ct"]["noise"]["clean"]["gain"], float)  # `gain: 0`
    assert list(out) == sorted(out) and list(out["probe"]) == sorted(out["probe"])


def test_a_single_value_is_the_list_of_it_where_the_schema_allows_both():
    schema = {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]},
            "b": {"type": ["integer", "array"], "items": {"type": "integer"}},
            "c": {"oneOf": [{"enum": ["all"], "type": "string"}, {"type": "array"}]},
            "d": {"type": "object", "properties": {"e": {"type": "number", "default": 2}}},
        },
    }
    assert canonical_config({"a": 1, "b": 3, "c": "all", "d": {}}, schema) == {
        "a": [1.0],
        "b": [3],
        "c": "all",  # a keyword of its own, not a list of it
        "d": {"e": 2.0},  # the default filled in, typed
    }
    assert canonical_config({"a": [1], "b": [3], "c": ["x"], "d": {"e": 2.0}}, schema) == {
        "a": [1.0],
        "b": [3],
        "c": ["x"],
        "d": {"e": 2.0},
    }


def test_params_are_sorted_mappings_and_callables_keep_their_signature():
    value = {"b": [{"y": 1, "x": 2}], "a": (3, {"d": 4, "c": 5})}
    assert repr(canonical(value)) == "{'a': (3, {'c': 5, 'd': 4}), 'b': [{'x': 2, 'y': 1}]}"

    def function(wildcards, output):
        return {"z": wildcards, "a": output}

    wrapped = canonical_param(function)
    assert list(inspect.signature(wrapped).parameters) == ["wildcards", "output"]
    assert list(wrapped(1, 2)) == ["a", "z"]
    assert canonical_param("results/{dataset}") == "results/{dataset}"


def test_execution_settings_leave_the_result_config():
    config = as_workflow(yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    kept = without_execution_settings(config)
    assert {"device", "batch_size", "downloads"} <= set(config) - set(kept)
    assert "memory_mb" in config["probe"] and "memory_mb" not in kept["probe"]
    assert kept["probe"]["cs"] == config["probe"]["cs"]
    assert "probe.memory_mb" in EXECUTION_SETTINGS


def test_a_models_name_written_out_as_its_key_is_the_same_config():
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    spelt = copy.deepcopy(config)
    for key, entry in spelt["models"].items():
        entry["name"] = key  # the code's default (fmeval.features.models), written out
    assert repr(as_workflow(spelt)) == repr(as_workflow(config))
    changed = copy.deepcopy(config)
    (entry,) = changed["models"].values()
    entry["name"] = "dinov2_vitb14"  # a real change stays one
    assert as_workflow(changed) != as_workflow(config)
