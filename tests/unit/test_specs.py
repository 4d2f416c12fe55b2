"""The method records (fmeval.specs and each branch's ``methods`` module) as the one source.

Every record's options are the schema's (same keys, same defaults; ``tune`` accepted exactly
where the record says an option may be tuned), every branch's method enum is its records'
names, the records are plain data (no torch, no numpy), and the README's tables are the
records' (``python -m fmeval.<branch>.methods``).
"""

import re
import subprocess
import sys

import jsonschema
import pytest
from conftest import REPO

from fmeval.classify.methods import METHODS as CLASSIFY
from fmeval.config import load_schema
from fmeval.ct.methods import METHODS as CT
from fmeval.specs import TUNE, MethodSpec, Option, markdown_table, registry, section_of
from fmeval.video.methods import METHODS as VIDEO

RECORDS = [*CT.values(), *VIDEO.values(), *CLASSIFY.values()]
IDS = [f"{s.section.split('.')[0]}.{s.name}" for s in RECORDS]
RECORD_MODULES = ["fmeval.specs", "fmeval.ct.methods", "fmeval.video.methods",
                  "fmeval.classify.methods", "fmeval.features.families"]  # fmt: skip
PLAN_MODULES = ["fmeval.ct.sweep", "fmeval.video.plan", "fmeval.classify.plan",
                "fmeval.features.models"]  # fmt: skip


def schema_node(dotted: str) -> dict:
    node = load_schema()
    for key in dotted.split("."):
        node = node["properties"][key]
    return node


def test_records_and_plans_import_without_torch():
    """rules/common.smk imports them on every snakemake start (a dry run too)."""
    heavy = ("torch", "numpy", "deepinv", "timm", "pandas")
    code = (
        f"import sys\nimport {', '.join(RECORD_MODULES)}\n"
        f"print(sorted({{m for m in sys.modules if m.split('.')[0] in {heavy!r}}}))\n"
        f"import {', '.join(PLAN_MODULES)}\n"
        "print(sorted({m for m in sys.modules if m.split('.')[0] in ('torch', 'deepinv', 'timm')}))"
    )
    env = {"PYTHONPATH": str(REPO / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "[]"], out.stdout


@pytest.mark.parametrize("spec", RECORDS, ids=IDS)
def test_every_option_is_the_schemas_with_the_same_default(spec: MethodSpec):
    section = schema_node(spec.section)
    properties = section.get("properties", {})
    assert set(spec.option_names) <= set(properties), f"{spec.section}: not in the schema"
    if spec.options:
        assert set(properties) == set(spec.option_names), f"{spec.section}: not in the record"
    for option in spec.options:
        assert properties[option.name].get("default") == option.default, option.name
    if spec.options and section.get("default"):  # the section's default repeats them
        assert section["default"] == spec.defaults


@pytest.mark.parametrize("spec", RECORDS, ids=IDS)
def test_tune_is_accepted_exactly_where_the_record_says(spec: MethodSpec):
    properties = schema_node(spec.section).get("properties", {})
    for option in spec.options:
        valid = jsonschema.Draft7Validator(properties[option.name]).is_valid(TUNE)
        assert valid == option.tunable, f"{spec.section}.{option.name}: tune"


@pytest.mark.parametrize("branch,records", [("ct", CT), ("video", VIDEO)])
def test_the_schemas_method_names_are_the_records(branch, records):
    methods = schema_node(f"{branch}.methods")
    assert methods["items"]["enum"] == list(records)
    assert set(methods["default"]) == set(records)


def test_tunable_options_name_search_keys_the_schema_has():
    tune = schema_node("ct.tune")["properties"]
    for spec in CT.values():
        for option in spec.options:
            assert bool(option.search) == option.tunable, option.name
            assert set(option.search) <= set(tune), option.search


def test_options_take_the_config_value_typed_or_the_default():
    lam, n_iter = Option("lam", TUNE, float, tunable=True), Option("n_iter", 100, int)
    assert (lam.value(None), lam.value(TUNE), lam.value(1)) == (TUNE, TUNE, 1.0)
    assert isinstance(lam.value(1), float) and n_iter.value(None) == 100
    assert n_iter.value("7") == 7 and Option("k", None, int).value(None) is None
    with pytest.raises(ValueError):
        Option("n", 1, int).value(TUNE)  # not tunable: "tune" is no number
    spec = CT["tv"]
    assert spec.options_from({"lam": 0.5}) == {"lam": 0.5, "n_iter": 100, "prox_iter": 20,
                                              "tol": 0.001}  # fmt: skip
    assert spec.tunable == ("lam",) and CT["ram"].options_from({"weights": "random"}) == {}


def test_a_name_has_one_record_and_sections_are_found():
    a = MethodSpec("a", "one", gpu=False)
    with pytest.raises(ValueError, match="two method records"):
        registry([a, a])
    assert section_of({"ct": {"tv": {"lam": 1}}}, "ct.tv") == {"lam": 1}
    assert section_of({"ct": None}, "ct.tv") == {} and section_of({}, "video.x") == {}


def test_the_markdown_table_has_a_row_per_record_and_says_gpu_and_defaults():
    table = markdown_table(CT.values(), {"precision": lambda s: str(s.precision)})
    rows = table.splitlines()
    assert len(rows) == 2 + len(CT) and all(r.count("|") == rows[0].count("|") for r in rows)
    tv = next(r for r in rows if r.startswith("| `tv`"))
    assert "| yes |" in tv and "lam = `tune`*" in tv and "n_iter = `100`" in tv
    assert "| no |" in next(r for r in rows if r.startswith("| `fbp`"))
    assert "tune" not in markdown_table(VIDEO.values()).splitlines()[0]


TABLES = {"ct-methods": "fmeval.ct.methods", "video-methods": "fmeval.video.methods",
          "classify-methods": "fmeval.classify.methods"}  # fmt: skip


@pytest.mark.parametrize("marker", TABLES)
def test_the_readme_tables_are_the_records(marker):
    """The README's tables between ``<!-- {marker}:start/end -->`` are the generators'."""
    found = re.search(rf"<!-- {marker}:start -->\n(.*?)\n<!-- {marker}:end -->",
                      (REPO / "README.md").read_text(), re.S)  # fmt: skip
    if found is None:
        pytest.skip(f"README.md has no {marker} markers yet (the lead adds the table)")
    module = __import__(TABLES[marker], fromlist=["methods_table"])
    assert found.group(1) == module.methods_table(), f"rerun python -m {TABLES[marker]}"
