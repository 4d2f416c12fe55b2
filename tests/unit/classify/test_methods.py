"""The classification probe records (fmeval.classify.methods): every protocol presets each
record's options, each record names a rule, and the plan fills options from them."""

import re

import pytest
from conftest import REPO

from fmeval.classify.methods import METHODS, method_options
from fmeval.classify.protocols import PROTOCOLS


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_every_protocol_presets_every_records_options(protocol):
    for name, spec in METHODS.items():
        assert set(PROTOCOLS[protocol][name]) == set(spec.option_names), (protocol, name)


def test_each_record_names_a_rule_of_rules_classify():
    rules = set(re.findall(r"^rule (\w+):", (REPO / "rules" / "classify.smk").read_text(), re.M))
    assert {m.rule for m in METHODS.values()} <= rules


def test_options_are_the_configs_else_the_protocols():
    preset = PROTOCOLS["dinov2"]
    given = {"knn": {"k": [5], "temperature": None}, "linear": {"tol": "1e-3"}}
    assert method_options("knn", given, preset) == {"k": [5], "temperature": 0.07}
    linear = method_options("linear", given, preset)
    assert linear["tol"] == 0.001 and linear["cs"] is None and linear["max_iter"] == 1000
    assert method_options("knn", {}, preset) == preset["knn"]
