"""The schema check: every mistake is one line with the key path, the problem and a fix."""

import copy

import pytest
import yaml
from conftest import REPO

from fmeval.config import HINT, check_schema, key_path
from fmeval.errors import ConfigError


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((REPO / "config" / "test.yaml").read_text())


def error_of(config: dict, change) -> str:
    config = copy.deepcopy(config)
    change(config)
    with pytest.raises(ConfigError) as err:
        check_schema(config)
    message = str(err.value)
    assert "\n" not in message and message.endswith(f"({HINT})")
    return message.removesuffix(f" ({HINT})")


def test_the_test_and_default_configs_pass(config):
    check_schema(config)
    check_schema(yaml.safe_load((REPO / "config.yaml").read_text()))


CASES = {
    "top-level typo": (
        lambda c: c.update(resolution=[224]),
        "resolution: unknown key; did you mean `resolutions`?",
    ),
    "nested typo": (
        lambda c: c["ct"].update(view=[10]),
        "ct.view: unknown key; did you mean `ct.views`?",
    ),
    "typo in a registry entry": (
        lambda c: c["models"]["dinov2_vits14"].update(patchsize=14),
        "models.dinov2_vits14.patchsize: unknown key; "
        "did you mean `models.dinov2_vits14.patch_size`?",
    ),
    "typo in a list item": (
        lambda c: c["datasets"]["davis"]["test_images"][0].update(imgae="x.jpg"),
        "datasets.davis.test_images[0].imgae: unknown key; "
        "did you mean `datasets.davis.test_images[0].image`?",
    ),
    "unknown key, nothing close": (
        lambda c: c.update(zzz=1),
        "zzz: unknown key; known: datasets, models, downloads, resolutions,",
    ),
    "missing key": (
        lambda c: c["models"]["dinov2_vits14"].pop("patch_size"),
        "models.dinov2_vits14.patch_size: required key is missing",
    ),
    "bad choice": (
        lambda c: c["models"]["dinov2_vits14"].update(backend="tim"),
        "models.dinov2_vits14.backend: 'tim' is not one of torchhub, timm; did you mean `timm`?",
    ),
    "wrong type": (
        lambda c: c.update(resolutions=[224, "448"]),
        "resolutions[1]: expected an integer, got str '448'",
    ),
    "out of range": (
        lambda c: c.update(batch_size=0),
        "batch_size: 0 is less than the minimum of 1",
    ),
    "bad precision": (
        lambda c: c.update(precision="fp16"),
        "precision: 'fp16' is not one of fp32, bf16",
    ),
    "bad name": (
        lambda c: c["models"].update({"a b": {"patch_size": 14}}),
        "models: the name 'a b' is not allowed",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_one_line_per_mistake(config, case):
    change, expected = CASES[case]
    assert error_of(config, change).startswith(expected)


@pytest.mark.parametrize(
    ("parts", "path"),
    [([], "config"), (["ct", "views"], "ct.views"), (["d", "t", 0, "mask"], "d.t[0].mask")],
)
def test_key_path(parts, path):
    assert key_path(parts) == path
