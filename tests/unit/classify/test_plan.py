"""The classify section: the schema checks single fields and fills defaults, check_config the
cross-field rules, classify_plan only types the values."""

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from fmeval.classify.plan import classify_plan
from fmeval.config import check_config, check_schema
from fmeval.errors import ConfigError

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def config(path="config/test-classify.yaml") -> dict:
    return yaml.safe_load((REPO / path).read_text())


def validated(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    validate(cfg, schema=SCHEMA)
    return cfg


def test_defaults_without_a_classify_section():
    cfg = validated(config("config.yaml"))
    plan = classify_plan(cfg["classify"], resolutions=cfg["resolutions"])
    assert plan.datasets == {}
    assert plan.k == (10, 20, 100, 200) and plan.temperature == 0.07
    # the default protocol: DINOv2's knn.py and log_regression.py
    assert (plan.protocol, plan.tap, plan.transform) == ("dinov2", "last-norm", "classification")
    assert (plan.knn_vote, plan.linear_method) == ("dinov2", "log_regression")
    assert plan.cs is None and plan.tol == 1e-12 and plan.val_fraction == 0.1
    assert plan.knn_label == plan.linear_label == "dinov2 protocol"
    assert plan.resolutions == tuple(cfg["resolutions"])
    check_config(cfg)


def test_test_config_plan():
    cfg = validated(config())
    check_config(cfg)
    plan = classify_plan(cfg["classify"], resolutions=cfg["resolutions"])
    assert list(plan.datasets) == ["davis-frames"] and plan.resolutions == (56,)
    assert plan.datasets["davis-frames"]["sha256"] is None  # entry default filled in


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c.setdefault("knn", {}).update(k=[0, 10]), "k"),
        (lambda c: c.setdefault("knn", {}).update(k=[]), "k"),
        (lambda c: c.setdefault("knn", {}).update(temperature=0), "temperature"),
        (lambda c: c.setdefault("linear", {}).update(cs=[0.0, 1.0]), "cs"),
        (lambda c: c.setdefault("linear", {}).update(val_fraction=1.0), "val_fraction"),
        (lambda c: c["datasets"]["davis-frames"].update(format="zip"), "format"),
        (lambda c: c["datasets"]["davis-frames"].update(test_fraction=0), "test_fraction"),
        (lambda c: c.update(typo=1), "typo"),
    ],
)
def test_single_fields_are_refused_by_the_schema(change, where):
    cfg = config()
    change(cfg["classify"])
    with pytest.raises(WorkflowError, match=where):
        validated(cfg)


def test_name_shared_with_a_segmentation_dataset():
    cfg = validated(config())
    cfg["classify"]["datasets"]["davis"] = cfg["classify"]["datasets"].pop("davis-frames")
    with pytest.raises(ConfigError, match="also a segmentation dataset"):
        check_config(cfg)


def test_classify_resolution_must_fit_the_patch():
    cfg = validated(config())
    cfg["classify"]["resolutions"] = [50]
    with pytest.raises(ConfigError, match=r"classify.resolutions entry 50 .* patch size 14"):
        check_config(cfg)


# --- issue 25: named protocols and their overrides ---------------------------------------


def plan_of(**section):
    cfg = config()
    cfg["classify"].update(section)
    cfg = validated(cfg)
    return classify_plan(cfg["classify"], resolutions=cfg["resolutions"])


def test_an_override_is_named_where_it_changes_numbers():
    plan = plan_of(knn={"temperature": 0.05})
    assert plan.temperature == 0.05
    assert plan.knn_label == "dinov2 protocol, temperature 0.05 instead of 0.07"
    assert plan.linear_label == "dinov2 protocol"  # the linear probe follows the protocol
    plan = plan_of(linear={"cs": [0.1, 1.0], "tol": 1e-6})
    assert plan.linear_label == (
        "dinov2 protocol, C grid [0.1, 1.0] instead of 10^linspace(-6, 5, 45), "
        "tol 1e-06 instead of 1e-12"
    )
    assert plan_of(knn={"temperature": 0.07}).knn_label == "dinov2 protocol"  # the same value


def test_a_tap_override_names_both_probes():
    plan = plan_of(tap="last-raw")
    assert plan.tap == "last-raw" and plan.transform == "classification"
    assert (
        plan.knn_label == plan.linear_label == "dinov2 protocol, tap last-raw instead of last-norm"
    )


def test_the_previous_settings_are_a_protocol():
    plan = plan_of(protocol="fmeval-v1")
    assert (plan.tap, plan.transform, plan.knn_vote) == ("last-raw", "tutorial5", "dino")
    assert plan.cs == (0.001, 0.01, 0.1, 1.0, 10.0) and plan.linear_method == "standardised"
    assert plan.knn_label == "fmeval-v1 protocol"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"tap": "norm"}, r"^classify.tap: 'norm' is not a feature tap; use last-raw"),
        ({"transform": "crop"}, r"^classify.transform: unknown image transform 'crop'; use one"),
    ],
)
def test_bad_names_are_one_line_config_errors(section, message):
    with pytest.raises(ConfigError, match=message) as err:
        plan_of(**section)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("knn", "key"), [({"temperature": 0}, "temperature"), ({"k": [0, 10]}, "k")]
)
def test_senseless_knn_values_are_one_line_schema_errors(knn, key):
    cfg = config()
    cfg["classify"]["knn"] = knn
    with pytest.raises(ConfigError, match=rf"classify.knn.{key}") as err:
        check_schema(cfg)
    assert "\n" not in str(err.value)
