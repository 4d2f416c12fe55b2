"""The backbone catalog: complete against timm, equal to the README, and the plan-time checks."""

import re

import pytest
import timm
from conftest import DINOV3_HUB, OFFICIAL_DINOV2_HUB, REPO

from fmeval.errors import ConfigError
from fmeval.features.catalog import (
    BACKBONES,
    check_hub_name,
    check_timm_name,
    hub_entry_points,
    markdown_table,
)
from fmeval.features.models import ModelSpec, check_spec


def test_readme_lists_the_catalog():
    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- backbones:start -->\n(.*?)\n<!-- backbones:end -->", readme, re.S)
    assert found, "README.md has no backbones:start/end markers"
    assert found.group(1) == markdown_table(), "regenerate: python -m fmeval.features.catalog"


def test_every_dino_vit_that_timm_lists_is_in_the_catalog():
    listed = set(timm.list_models("*dinov2*")) | {
        m for m in timm.list_models("*dinov3*") if m.startswith("vit_")
    }
    assert {b.name for b in BACKBONES if b.backend == "timm"} == listed


@pytest.mark.parametrize("backbone", [b for b in BACKBONES if b.backend == "timm"], ids=str)
def test_every_timm_name_passes(backbone):
    check_timm_name("m", backbone.name, backbone.patch_size)


def test_every_hub_name_passes_against_its_hub():
    for b in BACKBONES:
        if b.backend == "torchhub":
            check_hub_name("m", b.name, None, b.patch_size)  # the official GitHub repo
    for b in BACKBONES:
        if b.backend == "torchhub" and b.family == "DINOv3":
            check_hub_name("m", b.name, str(DINOV3_HUB), b.patch_size)
        elif b.backend == "torchhub" and OFFICIAL_DINOV2_HUB.is_dir():
            check_hub_name("m", b.name, str(OFFICIAL_DINOV2_HUB), b.patch_size)


def test_hub_entry_points_are_read_not_imported():
    names = hub_entry_points(DINOV3_HUB)
    assert "dinov3_vits16" in names and "dinov3_convnext_tiny" in names
    assert not any(n.startswith("_") for n in names) and "dependencies" not in names


def refused(check, *args) -> str:
    with pytest.raises(ConfigError) as err:
        check(*args)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_unknown_timm_name_gives_the_closest():
    message = refused(check_timm_name, "d3", "vit_small_patch16_dinov33", 16)
    assert message.startswith(
        f"models.d3.name: timm {timm.__version__} has no model 'vit_small_patch16_dinov33'; "
        "closest: vit_small_patch16_dinov3, "
    )


def test_unknown_pretrained_tag():
    message = refused(check_timm_name, "d3", "vit_small_patch16_dinov3.lvd", 16)
    assert "closest: " in message and "vit_small_patch16_dinov3.lvd1689m" in message


def test_timm_convnext_is_not_a_vit():
    message = refused(check_timm_name, "cnx", "convnext_tiny.dinov3_lvd1689m", 16)
    assert message.startswith(
        "models.cnx.name: timm model 'convnext_tiny.dinov3_lvd1689m' is a convnext model, not a "
        "ViT: fmeval needs a ViT's patch tokens and CLS token; use e.g. vit_small_patch16_dinov3"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [("dinov3_convnext_tiny", "a ConvNeXt, not a ViT"), ("dinov2_vits14_lc", "a task head")],
)
def test_hub_entry_points_that_are_not_vit_backbones(name, reason):
    repo = str(DINOV3_HUB if name.startswith("dinov3") else OFFICIAL_DINOV2_HUB)
    if not OFFICIAL_DINOV2_HUB.is_dir() and name.startswith("dinov2"):
        repo = None  # the official GitHub repo: checked against the catalog
    assert refused(check_hub_name, "m", name, repo, 16).startswith(
        f"models.m.name: {name} is {reason}"
    )


def test_unknown_hub_entry_point_gives_the_closest():
    message = refused(check_hub_name, "m", "dinov3_vits61", str(DINOV3_HUB), 16)
    assert message.startswith(
        f"models.m.name: the hub in {DINOV3_HUB} has no entry point 'dinov3_vits61'; closest: "
        "dinov3_vits16"
    )


def test_patch_size_must_match():
    message = refused(check_timm_name, "m", "vit_small_patch16_dinov3", 14)
    assert message == (
        "models.m.patch_size: is 14, but vit_small_patch16_dinov3 has patch size 16; set it to 16"
    )


def test_missing_local_hub_folder(tmp_path):
    message = refused(check_hub_name, "m", "dinov2_vits14", str(tmp_path / "nohub"), 14)
    assert message.startswith(f"models.m.repo: no folder {tmp_path / 'nohub'} (from ")


def test_dinov3_hub_weights_are_gated():
    spec = ModelSpec.from_config("d3", {"name": "dinov3_vits16", "patch_size": 16})
    assert spec.hub_repo == "facebookresearch/dinov3"
    message = refused(check_spec, spec)
    assert message.startswith("models.d3.weights: the official DINOv3 weights are gated")


def test_readme_lists_the_families():
    from fmeval.features.families import markdown_table as families_table

    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- families:start -->\n(.*?)\n<!-- families:end -->", readme, re.S)
    assert found, "README.md has no families:start/end markers"
    assert found.group(1) == families_table(), "regenerate: python -m fmeval.features.catalog"
