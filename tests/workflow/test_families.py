"""Integration (issue 28): config/test-families.yaml on top of the test config compares a
DINOv2 ViT-S/14, a DINOv3 ViT-S/16, SigLIP 2 ViT-B/16 (no CLS token: its attention pool is
the image embedding) and PE ViT-B/16, random-initialised, at 224 px, through the segmentation
probe. Only that target (not the CT grid), and one probe C, to keep it cheap; the k-NN on a
model without a CLS token is tests/unit/features/test_families.py's.
"""

import json

import pandas as pd
import pytest
import yaml
from conftest import REPO, absolutise, load_test_config, run_snakemake, scheduled_jobs

from fmeval.io.tables import read_meta

pytestmark = pytest.mark.integration

MODELS = {"dinov2_vits14", "dinov3_vits16", "siglip2_vitb16", "pe_core_vitb16"}
TARGETS = ("report_segmentation",)


def families_config() -> dict:
    """config/test.yaml, then config/test-families.yaml merged on top (as snakemake does)."""
    config = load_test_config()
    extra = absolutise(yaml.safe_load((REPO / "config" / "test-families.yaml").read_text()))
    config["models"].update(extra.pop("models"))
    config["probe"]["cs"] = [1.0]  # cheaper: the comparison, not the C sweep, is tested here
    return {**config, **extra}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("families")
    run_snakemake(workdir, families_config(), "--show-failed-logs", *TARGETS)
    return workdir


def test_segmentation_compares_the_four_models(run):
    best = pd.read_csv(run / "results/report/segmentation/ap_best.csv")
    assert set(best["model"]) == MODELS and set(best["res"]) == {224}
    assert best["mean_ap"].between(0, 1).all() and best["random_init"].all()
    tests = pd.read_csv(run / "results/report/segmentation/test_scores.csv")
    assert set(tests["model"]) == MODELS


def test_features_and_manifests_say_the_family(run):
    meta = read_meta(run / "results/features/davis/siglip2_vitb16/224.cls.parquet")
    assert meta["family"] == "SigLIP 2 / SigLIP" and meta["embedding"] == "map"
    assert meta["input_mean"] == [0.5, 0.5, 0.5] and meta["native_res"] == 224
    pe = json.loads((run / "resources/models/pe_core_vitb16.json").read_text())
    assert pe["family"] == "Perception Encoder (core)" and pe["embedding"] == "map"
    dino = json.loads((run / "resources/models/dinov2_vits14.json").read_text())
    assert dino["embedding"] == "cls" and dino["native_res"] == 518 and not dino["attention_maps"]


def test_attention_maps_only_for_families_that_have_them(tmp_path):
    """A dry run with attention maps on: only DINOv2 (a CLS token, no RoPE) gets them; the
    report's model table says why the others do not (tests/unit/report/test_render.py)."""
    config = families_config()
    config["pca"]["attention_maps"] = True
    proc = run_snakemake(tmp_path, config, "-n", "--forceall")
    assert scheduled_jobs(proc)["render_attention"] == 1
    assert "results/attention/davis/dinov2_vits14/224" in proc.stdout
