"""Integration: the classification branch on the DAVIS-frames dataset (200 frames of 4
sequences, labelled by sequence) with a random-initialised ViT-S/14 at 56 px, its reruns
(dry runs in the run's folder, config restored after) and its bad-input errors.
"""

import copy
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, absolutise, run_snakemake, scheduled_jobs, write_config
from PIL import Image

from fmeval.classify.embeddings import read_embeddings

pytestmark = pytest.mark.integration

VIDEO = REPO.parent / "shared" / "data" / "davis2016-video" / "JPEGImages" / "480p"
CELL = "results/classify/davis-frames/dinov2_vits14/56"
TARGET = "report_classify"
# a flag ends --configfile's list of files, so the target is taken as a target
TARGET_ARGS = ("--show-failed-logs", TARGET)
SEQUENCES = ["blackswan", "car-shadow", "dog", "kite-surf"]
FEATURES = "results/features/davis-frames/dinov2_vits14/56/classification/last-norm.parquet"


def load_config() -> dict:
    config = absolutise(yaml.safe_load((REPO / "config" / "test-classify.yaml").read_text()))
    entry = config["classify"]["datasets"]["davis-frames"]
    entry["source"] = str((REPO / entry["source"]).resolve())
    return config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not VIDEO.is_dir():
        pytest.skip(f"{VIDEO} is absent")
    workdir = tmp_path_factory.mktemp("classify")
    run_snakemake(workdir, load_config(), *TARGET_ARGS)
    return workdir


def dry_run(workdir, change) -> tuple[dict[str, int], str]:
    config = load_config()
    change(config)
    try:
        proc = run_snakemake(workdir, config, "-n", TARGET)
    finally:
        write_config(workdir, load_config())
    return scheduled_jobs(proc), proc.stdout + proc.stderr


def test_manifest_labels_frames_by_sequence(run):
    manifest = json.loads((run / "resources/datasets/davis-frames/manifest.json").read_text())
    assert manifest["classes"] == SEQUENCES
    assert len(manifest["train"]) == 150 and len(manifest["test"]) == 50
    for rec in manifest["train"] + manifest["test"]:
        assert rec["mask"] is None and f"/{rec['label']}/" in rec["image"]


def test_cell_tables(run):
    emb = read_embeddings(run / CELL / "embeddings.parquet")
    assert emb.meta["random_init"] is True and emb.classes == SEQUENCES
    assert emb.vectors["cls"].shape == emb.vectors["mean_patch"].shape == (200, 384)
    assert not np.allclose(emb.vectors["cls"], emb.vectors["mean_patch"])
    # the dinov2 protocol's tokens (issue 25): normed CLS tokens of centre-cropped images
    assert (emb.meta["tap"], emb.meta["transform"]) == ("last-norm", "classification")
    unit = emb.vectors["cls"] / np.linalg.norm(emb.vectors["cls"], axis=1, keepdims=True)
    assert (unit @ unit.T).mean() < 0.9  # distinct CLS tokens: the k-NN ranks real differences
    knn = pd.read_csv(run / CELL / "knn.csv")
    assert sorted(zip(knn["embedding"], knn["k"])) == sorted(
        (e, k) for e in ("cls", "mean_patch") for k in (10, 20, 100, 200)
    )
    assert knn["random_init"].all() and knn["top1"].between(0, 100).all()
    assert knn["protocol"].eq("dinov2 protocol").all()
    linear = pd.read_csv(run / CELL / "linear.csv")
    assert linear["protocol"].eq("dinov2 protocol").all()
    assert linear.groupby("embedding").size().to_dict() == {"cls": 45, "mean_patch": 45}
    assert linear.groupby("embedding")["selected"].sum().to_dict() == {"cls": 1, "mean_patch": 1}
    confusion = pd.read_csv(run / CELL / "confusion.csv")
    for name, group in confusion.groupby("embedding"):
        chosen = linear[(linear["embedding"] == name) & linear["selected"]]["top1"].item()
        diagonal = group.loc[group["true"] == group["predicted"], "count"].sum()
        assert group["count"].sum() == 50
        assert chosen == pytest.approx(100 * diagonal / 50)


def test_report_section(run):
    acc = pd.read_csv(run / "results/report/classify/accuracy.csv")
    assert len(acc) == 4 and acc["random_init"].all()
    assert set(acc["method"]) == {"knn", "linear"} and acc["chance_top1"].eq(30.0).all()
    assert acc["protocol"].eq("dinov2 protocol").all()
    for name in ("table", "knn", "linear", "confusion", "mistakes"):
        with Image.open(run / f"results/report/classify/{name}.png") as png:
            assert np.asarray(png).std() > 0
        assert "RANDOM-INIT" in (run / f"results/report/classify/{name}.svg").read_text()


def test_changing_k_reruns_only_knn_and_the_report(run):
    jobs, _ = dry_run(run, lambda c: c["classify"].update(knn={"k": [5, 20]}))
    assert jobs == {"score_knn": 1, "report_classify": 1}


def test_changing_the_c_grid_reruns_only_the_linear_probe_and_the_report(run):
    jobs, _ = dry_run(run, lambda c: c["classify"].update(linear={"cs": [0.1, 1.0]}))
    assert jobs == {"fit_linear_probe": 1, "report_classify": 1}


def test_changing_the_temperature_reruns_only_knn_and_the_report(run):
    jobs, _ = dry_run(run, lambda c: c["classify"].update(knn={"temperature": 0.05}))
    assert jobs == {"score_knn": 1, "report_classify": 1}


def test_a_tap_override_extracts_new_features_and_keeps_the_old(run):
    jobs, text = dry_run(run, lambda c: c["classify"].update(tap="last-raw"))
    assert jobs == {
        "extract_features_variant": 1,
        "gather_embeddings": 1,
        "score_knn": 1,
        "fit_linear_probe": 1,
        "report_classify": 1,
    }
    assert "results/features/davis-frames/dinov2_vits14/56/classification/last-raw.parquet" in text
    assert (run / FEATURES).is_file()  # the normed tokens' file stays, under its own name


def test_adding_a_model_extracts_only_its_features(run):
    def add(config):
        config["models"]["second"] = {
            **copy.deepcopy(config["models"]["dinov2_vits14"]),
            # a second key for the same hub entry point
        }

    jobs, text = dry_run(run, add)
    assert jobs == {
        "fetch_model": 1,
        "extract_features_variant": 1,
        "gather_embeddings": 1,
        "score_knn": 1,
        "fit_linear_probe": 1,
        "report_classify": 1,
    }
    assert "results/features/davis-frames/second/56/classification/last-norm.parquet" in text
    assert FEATURES not in text


def test_class_folder_without_images_stops_the_download(tmp_path):
    if not VIDEO.is_dir():
        pytest.skip(f"{VIDEO} is absent")
    data = tmp_path / "data"
    for label in ("a", "b"):
        (data / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((28, 28, 3), 40 * i + ord(label), np.uint8)).save(
                data / label / f"{i}.png"
            )
    (data / "c").mkdir()
    config = load_config()
    config["classify"]["datasets"] = {"bad": {"source": str(data)}}
    proc = run_snakemake(tmp_path / "run", config, *TARGET_ARGS, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "class folder" in text and "c has no images" in text
    assert not (tmp_path / "run/resources/datasets/bad/manifest.json").exists()


def test_name_shared_with_a_segmentation_dataset_is_a_config_error(tmp_path):
    config = load_config()
    config["classify"]["datasets"] = {"davis": config["classify"]["datasets"]["davis-frames"]}
    proc = run_snakemake(tmp_path, config, "-n", TARGET, check=False)
    assert proc.returncode != 0
    assert "also a segmentation dataset" in proc.stdout + proc.stderr
    assert not scheduled_jobs(proc)
