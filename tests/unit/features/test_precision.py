"""`precision` changes the numbers and is recorded; the device is recorded, not a parameter."""

import numpy as np
import pytest
import synthetic
import torch
from conftest import DINOV3_HUB

from fmeval.errors import ConfigError
from fmeval.features.backbones import create_backbone, fetch_model, load_manifest
from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.features.extraction import extract_features, provenance
from fmeval.features.models import ModelSpec
from fmeval.runtime import autocast

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The DINOv3 hub fixture's ViT-S/16 (random init) and the synthetic images."""
    tmp = tmp_path_factory.mktemp("precision")
    spec = ModelSpec.from_config(
        "d3",
        {"name": "dinov3_vits16", "repo": str(DINOV3_HUB), "patch_size": 16, "weights": "random"},
    )
    fetch_model(spec, cache_dir=tmp, manifest=tmp / "d3.json")
    spec, record = load_manifest(tmp / "d3.json")
    items = read_manifest(
        download_dataset(name="synth", out_dir=tmp / "ds", **synthetic.make_dataset(tmp / "src"))
    )
    return spec, record, create_backbone(spec, record), items[:2]


def features(setup, precision: str) -> np.ndarray:
    spec, _, model, items = setup
    table, _, _ = extract_features(
        model, spec, items, res=32, batch_size=2, device=CPU, precision=precision
    )
    return np.stack(table.column("feature").to_numpy(zero_copy_only=False))


def test_bf16_changes_the_numbers_a_little(setup):
    fp32, again, bf16 = features(setup, "fp32"), features(setup, "fp32"), features(setup, "bf16")
    np.testing.assert_array_equal(fp32, again)
    assert not np.array_equal(fp32, bf16)
    np.testing.assert_allclose(bf16, fp32, rtol=0.05, atol=0.05 * np.abs(fp32).max())


def test_metadata_records_precision_and_device(setup):
    spec, record, _, _ = setup
    meta = provenance(
        spec, record, dataset="synth", res=32, grids={}, dim=384, precision="bf16", device="cpu"
    )
    assert meta["precision"] == "bf16" and meta["device"] == "cpu"
    assert meta["random_init"] is True


def test_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match=r"^precision: unknown 'fp16'; use fp32 or bf16$"):
        autocast("fp16", CPU)
