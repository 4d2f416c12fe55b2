"""Fixtures of the extraction tests: a random ViT-S/14 from the hub fixture, synthetic items."""

import pytest
import synthetic
from conftest import HUB_FIXTURE

from fmeval.features.backbones import create_backbone, fetch_model, load_manifest
from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.features.models import ModelSpec


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(spec, backbone): ``dinov2_vits14`` built by tests/fixtures/dinov2_hub, random init."""
    tmp = tmp_path_factory.mktemp("model")
    entry = {"backend": "torchhub", "repo": str(HUB_FIXTURE), "patch_size": 14}
    spec = ModelSpec.from_config("vits", {**entry, "weights": "random", "name": "dinov2_vits14"})
    fetch_model(spec, cache_dir=tmp, manifest=tmp / "vits.json")
    spec, record = load_manifest(tmp / "vits.json")
    return spec, create_backbone(spec, record)


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """The synthetic dataset (tests/synthetic.py) downloaded and read back as Items."""
    tmp = tmp_path_factory.mktemp("synth")
    entry = synthetic.make_dataset(tmp / "src")
    return read_manifest(download_dataset(name="synth", out_dir=tmp / "ds", **entry))
