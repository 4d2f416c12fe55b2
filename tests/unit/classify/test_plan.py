"""The classify section: the schema checks single fields and fills defaults, check_config the
cross-field rules, classify_plan only types the values."""

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from fmeval.classify.plan import classify_plan
from fmeval.config import check_config
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
        (lambda c: c["knn"].update(k=[0, 10]), "k"),
        (lambda c: c["knn"].update(k=[]), "k"),
        (lambda c: c["knn"].update(temperature=0), "temperature"),
        (lambda c: c["linear"].update(cs=[0.0, 1.0]), "cs"),
        (lambda c: c["linear"].update(val_fraction=1.0), "val_fraction"),
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
