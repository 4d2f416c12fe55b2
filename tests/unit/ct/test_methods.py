"""The CT method records (fmeval.ct.methods) against their implementations and the rules'
helpers: one builder and, for a tunable method, one search per record; what they derive."""

import pytest
import torch

from fmeval.ct.methods import BASELINES, METHODS, TUNABLE, method_options, tune_search
from fmeval.ct.reconstruction import BUILDERS, make_solver
from fmeval.ct.scores import describe_setting
from fmeval.ct.sweep import METHODS as GRID_METHODS
from fmeval.ct.tuned import needs_tuning
from fmeval.ct.tuning import SEARCHES
from fmeval.errors import ConfigError
from fmeval.specs import TUNE

TUNE_SECTION = {"n_validation": 2, "lam_range": [1e-4, 0.1], "lam_grid": 3, "lam_refine": 2,
                "windows": ["hann"], "frequency_scalings": [0.5, 1.0]}  # fmt: skip


def test_every_record_has_a_builder_and_every_tunable_one_a_search():
    assert set(BUILDERS) == set(METHODS) and GRID_METHODS == tuple(METHODS)
    assert set(SEARCHES) == set(TUNABLE) == {n for n, m in METHODS.items() if m.tunable}


@pytest.mark.parametrize("name", list(METHODS))
def test_a_method_needs_a_model_exactly_when_its_record_says_so(name):
    spec = METHODS[name]
    fixed = {o.name: o.default for o in spec.options if o.default != TUNE}
    fixed |= {"window": "hann", "frequency_scaling": 0.5, "lam": 0.01} if spec.tunable else {}
    if spec.needs_weights:
        assert spec.weights_urls and all(u.startswith("https://") for u in spec.weights_urls)
        with pytest.raises(ConfigError, match="needs a model"):
            make_solver(name, options=fixed)
        assert callable(make_solver(name, options=fixed, model=torch.nn.Identity()))
    else:
        assert not spec.weights_urls and callable(make_solver(name, options=fixed))


def test_precision_applies_to_networks_only_and_fbp_holds_no_gpu():
    assert [n for n, m in METHODS.items() if m.precision] == ["ram"]
    assert [n for n, m in METHODS.items() if not m.gpu] == ["fbp"]
    assert BASELINES == ("fbp", "tv")


def test_options_come_from_the_methods_section_with_the_records_defaults():
    ct = {"tv": {"lam": 0.5, "n_iter": "7"}, "fbp": {"window": "hann"}, "ram": {"weights": "x"}}
    assert method_options("tv", ct) == {"lam": 0.5, "n_iter": 7, "prox_iter": 20, "tol": 0.001}
    assert method_options("fbp", ct) == {"window": "hann", "frequency_scaling": TUNE}
    assert method_options("ram", ct) == {}
    assert needs_tuning("fbp", method_options("fbp", ct))
    assert not needs_tuning("tv", method_options("tv", ct))


def test_the_search_reads_only_the_keys_of_the_tuned_options():
    fbp = tune_search("fbp", {"window": "hann", "frequency_scaling": TUNE}, TUNE_SECTION)
    assert fbp == {"n_validation": 2, "frequency_scalings": [0.5, 1.0]}
    tv = tune_search("tv", {"lam": TUNE}, TUNE_SECTION)
    assert set(tv) == {"n_validation", "lam_range", "lam_grid", "lam_refine"}
    assert tune_search("ram", {}, TUNE_SECTION) == {"n_validation": 2}


def test_the_setting_column_is_the_records_format():
    assert describe_setting("tv", {"lam": 0.0123456, "n_iter": 5}) == "lam=0.0123"
    assert describe_setting("fbp", {"window": "hann", "frequency_scaling": 0.5}) == (
        "hann, cut-off 0.5"
    )
    assert describe_setting("fbp", {"window": "ram-lak", "frequency_scaling": 1}) == (
        "ram-lak, cut-off 1"
    )
    assert describe_setting("ram", {}) == ""
