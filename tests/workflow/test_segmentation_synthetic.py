"""Integration: the whole segmentation branch on the synthetic dataset (tests/synthetic.py).

Four training pictures with disc masks and two test pictures, one with a mask and one
without, in the DAVIS tarball format with file:// and plain-path sources; random ViT-S/14.
The run targets the segmentation section only (no CT), and its tables are checked against
an independent scikit-learn computation on the run's own cached features.
"""

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import synthetic
from conftest import load_test_config, run_snakemake, scheduled_jobs
from PIL import Image
from reference_probe import cross_validate_reference
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from fmeval.io.tables import read_meta
from fmeval.seg.fit import load_probe
from fmeval.seg.probe import load_probe_data

pytestmark = pytest.mark.integration

MODEL = "dinov2_vits14"
DMR = f"synth/{MODEL}"
RESOLUTIONS = [56, 112]
CS = [0.01, 1.0]
TRAIN = [stem for stem, *_ in synthetic.TRAIN]
TEST = {stem: has_mask for stem, _, _, has_mask in synthetic.TEST}
REPORT = "results/report/segmentation"


def targets() -> list[str]:
    out = [
        f"{REPORT}/{name}" for name in ("ap.csv", "ap_best.csv", "test_scores.csv", "ap_vs_c.png")
    ]
    for res in RESOLUTIONS:
        out += [
            f"results/probe/{DMR}/{res}/{name}"
            for name in ("cv.parquet", "summary.json", "probe.npz")
        ]
        # one job per (dataset, model, res) writes every test image's files into its folder
        out += [f"results/segment/{DMR}/{res}", f"results/pca/{DMR}/{res}"]
    return out


@pytest.fixture(scope="module")
def synth_segmentation(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_seg")
    config = load_test_config()
    config["datasets"] = {"synth": synthetic.make_dataset(root / "data")}
    config["resolutions"] = RESOLUTIONS
    config["probe"]["cs"] = CS
    config["batch_size"] = 2
    workdir = root / "work"
    # a flag ends --configfile's list of files, so the targets are taken as targets
    proc = run_snakemake(workdir, config, "--printshellcmds", *targets())
    jobs = scheduled_jobs(proc)
    return workdir, jobs


def test_runs_the_segmentation_branch_only(synth_segmentation):
    _, jobs = synth_segmentation
    n = len(RESOLUTIONS)
    assert jobs == {
        "download_dataset": 1,
        "fetch_model": 1,
        "extract_features": n,
        "cross_validate_probe": n,
        "fit_probe": n,
        "segment_test_images": n,  # one job per cell, for all its test images
        "render_pca": n,
        "report_segmentation": 1,
    }


@pytest.mark.parametrize("res", RESOLUTIONS)
def test_cv_table_equals_scikit_learn_on_the_cached_features(synth_segmentation, res):
    workdir, _ = synth_segmentation
    cv = pq.read_table(workdir / f"results/probe/{DMR}/{res}/cv.parquet").to_pandas()
    assert sorted(cv["image"].unique()) == sorted(TRAIN) and len(cv) == len(TRAIN) * len(CS)
    assert read_meta(workdir / f"results/probe/{DMR}/{res}/cv.parquet")["random_init"] is True
    data = load_probe_data(
        workdir / f"results/features/{DMR}/{res}.parquet", fg_threshold=0.99, bg_threshold=0.01
    )
    # Newton steps with a Cholesky solve reach the optimum (lbfgs can stop short of it on
    # nearly separable folds even at tol 1e-10), checked: a ConvergenceWarning fails the
    # test. Past tol 1e-8 its line search stalls at rounding level and sklearn falls back to
    # lbfgs for up to max_iter steps (minutes). One BLAS thread: the matrices are tiny.
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("error", ConvergenceWarning)
        reference = cross_validate_reference(
            data, CS, max_iter=10000, tol=1e-8, solver="newton-cholesky"
        )
    merged = cv.merge(reference, on=["image", "C"], suffixes=("", "_ref"))
    assert len(merged) == len(cv)
    assert (merged["skipped"] == merged["skipped_ref"]).all()
    scored = merged[~merged["skipped"]]
    assert len(scored) > 0, "every synthetic fold was skipped"
    np.testing.assert_allclose(scored["ap"], scored["ap_ref"], atol=1e-6)
    assert (merged.loc[merged["skipped"], "reason"].str.len() > 0).all()


def test_report_rows_and_banner(synth_segmentation):
    workdir, _ = synth_segmentation
    ap = pd.read_csv(workdir / f"{REPORT}/ap.csv")
    assert set(ap["dataset"]) == {"synth"} and len(ap) == len(RESOLUTIONS) * len(CS)
    assert ap["random_init"].all() and (ap["n_folds"] + ap["n_skipped"] == len(TRAIN)).all()
    for res in RESOLUTIONS:
        summary = json.loads((workdir / f"results/probe/{DMR}/{res}/summary.json").read_text())
        probe = load_probe(workdir / f"results/probe/{DMR}/{res}/probe.npz")
        assert probe.c == summary["best_c"] in CS and probe.coef.shape == (384,)
    test = pd.read_csv(workdir / f"{REPORT}/test_scores.csv").set_index(["image", "res"])
    assert sorted(test.index) == sorted((image, res) for image in TEST for res in RESOLUTIONS)
    for (image, _res), row in test.iterrows():
        assert bool(row["has_mask"]) == TEST[image]
        if TEST[image]:
            assert 0 <= row["ap"] <= 1 and 0 <= row["iou"] <= 1
        else:  # no mask, no score (not a zero)
            assert np.isnan(row["ap"]) and np.isnan(row["iou"])


@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("image", list(TEST))
def test_segmentations_and_pca_renders(synth_segmentation, res, image):
    workdir, _ = synth_segmentation
    rows, cols = read_meta(workdir / f"results/features/{DMR}/{res}.parquet")["grids"][image]
    scores = json.loads((workdir / f"results/segment/{DMR}/{res}/{image}.json").read_text())
    assert scores["n_patches"] == rows * cols and scores["has_mask"] == TEST[image]
    assert scores["random_init"] is True
    with Image.open(workdir / f"results/segment/{DMR}/{res}/{image}.png") as png:
        assert png.size[0] > png.size[1]  # panels side by side
    info = json.loads((workdir / f"results/pca/{DMR}/{res}/{image}.json").read_text())
    assert info["foreground_pca"] == (info["n_foreground"] >= 3)
    assert bool(info["note"]) != info["foreground_pca"]
    with Image.open(workdir / f"results/pca/{DMR}/{res}/{image}.png") as png:
        assert np.asarray(png).std() > 0
