"""Integration: the torchhub backend on the official DINOv3 hub code (issue 22, item 6).

The official facebookresearch/dinov3 code (../shared/hub/dinov3, DINOv3 License) as a
local hub repo, with local weights as the README describes for the gated checkpoints: a
random-init ViT-S/16 state dict that the test builds with the official code and saves as
safetensors. fetch_model loads it safely and strictly; extract_features embeds the
synthetic dataset with it, and its features equal the official model's own forward.
"""

import numpy as np
import pytest
import synthetic
import torch
from conftest import OFFICIAL_DINOV3_HUB, load_test_config, run_snakemake, scheduled_jobs

from fmeval.features.datasets import read_manifest
from fmeval.features.images import load_rgb, resize_to_grid, to_normalised_tensor
from fmeval.features.store import read_features
from fmeval.io.sources import sha256_file
from fmeval.io.tables import read_meta

pytestmark = pytest.mark.integration

MODEL, RES = "dinov3_vits16", 64


@pytest.fixture(scope="module")
def dinov3_run(tmp_path_factory):
    if not (OFFICIAL_DINOV3_HUB / "hubconf.py").is_file():
        pytest.skip(f"{OFFICIAL_DINOV3_HUB} is absent")
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("dinov3_hub")
    torch.manual_seed(22)
    model = torch.hub.load(str(OFFICIAL_DINOV3_HUB), MODEL, source="local", pretrained=False)
    weights = root / "dinov3_vits16_random.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    config = load_test_config()
    config["datasets"] = {"synth": synthetic.make_dataset(root / "data")}
    config["models"] = {
        MODEL: {
            "backend": "torchhub",
            "repo": str(OFFICIAL_DINOV3_HUB),
            "name": MODEL,
            "patch_size": 16,
            "weights": str(weights),
        }
    }
    config["resolutions"] = [RES]
    config["batch_size"] = 2
    workdir = root / "work"
    target = f"results/features/synth/{MODEL}/{RES}.parquet"
    proc = run_snakemake(workdir, config, "--show-failed-logs", target)
    return workdir / target, weights, model.eval(), scheduled_jobs(proc)


def test_fetch_and_extract_with_local_weights(dinov3_run):
    features, weights, _, jobs = dinov3_run
    assert jobs == {"download_dataset": 1, "fetch_model": 1, "extract_features": 1}
    meta = read_meta(features)
    assert meta["random_init"] is False
    assert meta["weights"] == f"sha256:{sha256_file(weights)}"


def test_features_are_the_official_models_own(dinov3_run):
    """The pipeline's patch features of each training picture equal the official model's own
    forward (with the saved weights) on the same preprocessed pixels."""
    features, _, model, _ = dinov3_run
    pf = read_features(features)
    manifest = features.parents[4] / "resources/datasets/synth/manifest.json"
    train = [item for item in read_manifest(manifest) if item.split == "train"]
    assert len(train) == len(synthetic.TRAIN)
    for item in train:
        grid = pf.grid_of(item.name)
        image = resize_to_grid(load_rgb(item.image), grid, patch_size=16)
        with torch.no_grad():
            ((patches, _cls),) = model.get_intermediate_layers(
                to_normalised_tensor(image)[None],
                n=1,
                reshape=True,
                return_class_token=True,
                norm=False,
            )
        expected = patches[0].flatten(1).T.numpy()  # (rows * cols, 384), row-major
        ours = pf.features[pf.rows_of(item.name)]
        np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-3)
