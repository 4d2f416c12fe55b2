"""Each branch alone, and branches switched on and off (issue 24: `branches` in the config).

Segmentation alone and CT alone run for real, one after the other in one folder, on the
test config cut small (one resolution, one CT cell); each plans only its own jobs and builds
the report, which says the other branches are off. Switching both on afterwards plans
nothing but the report: toggling one branch reruns none of another's jobs. Video alone and
classification alone are dry runs (their real runs are tests/workflow/test_video.py and
test_classify.py). Last, the Slurm profile sends every job whose `gpu` resource is above 0
to the GPU partition, in a dry run of every config/test*.yaml.
"""

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SHARED_DATA, load_test_config, run_snakemake, scheduled_jobs

from workflow.test_spelling import TEST_CONFIGS, merged

pytestmark = pytest.mark.integration

REPORT = ("build_report", "all")
SEGMENTATION = {
    "download_dataset",
    "fetch_model",
    "extract_features",
    "cross_validate_probe",
    "fit_probe",
    "segment_test_images",
    "render_pca",
    "report_segmentation",
}
CT = {
    "make_phantoms",
    "measure_operator",
    "simulate_sinograms",
    "reconstruct_sinograms",
    "score_reconstructions",
    "report_ct",
}
VIDEO = {
    "download_video",
    "fetch_model",
    "extract_features_variant",
    "predict_video_masks",
    "score_video",
    "report_video",
}
CLASSIFY = {
    "download_classification_dataset",
    "fetch_model",
    "extract_features_variant",  # the dinov2 protocol's normed CLS, resized and cropped
    "gather_embeddings",
    "score_knn",
    "fit_linear_probe",
    "report_classify",
}


def workspace(root: Path) -> Path:
    """``root/work`` beside a link ``root/shared`` to ../shared, with a link ``tests``: the
    test configs' relative paths resolve as from the repository root."""
    work = root / "work"
    work.mkdir(parents=True)
    os.symlink(REPO.parent / "shared", root / "shared")
    os.symlink(REPO / "tests", work / "tests")
    return work


def small_config(branches: list[str] | None) -> dict:
    """The test config at one resolution and one CT cell (fbp, no tuning)."""
    config = load_test_config()
    config["resolutions"] = [224]
    config["ct"].update(
        views=[10],
        noise={"clean": {"gain": 0, "sigma": 0}},
        methods=["fbp"],
        fbp={"window": "ram-lak", "frequency_scaling": 1.0},
    )
    config["branches"] = branches
    return config


@pytest.fixture(scope="module")
def alone_runs(tmp_path_factory):
    """Segmentation alone, then CT alone, in one folder: (folder, {branch: jobs, report})."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    work = workspace(tmp_path_factory.mktemp("branches"))
    runs = {}
    for branch in ("segmentation", "ct"):
        proc = run_snakemake(work, small_config([branch]))
        report = work / "results" / "report"
        runs[branch] = {
            "jobs": scheduled_jobs(proc),
            "html": (report / "index.html").read_text(),
            "ap": pd.read_csv(report / "ap.csv"),
            "ct": pd.read_csv(report / "ct.csv"),
        }
    return work, runs


def test_segmentation_alone_runs_only_its_jobs_and_the_report(alone_runs):
    _, runs = alone_runs
    run = runs["segmentation"]
    assert set(run["jobs"]) == SEGMENTATION | set(REPORT)
    assert "CT reconstruction is off in this run: `branches` does not list ct" in run["html"]
    assert "Video segmentation is off in this run" in run["html"]
    assert {"dataset", "model", "res", "C"} <= set(run["ap"].columns)
    assert list(run["ct"].columns) == ["note"] and "does not list ct" in run["ct"]["note"][0]


def test_ct_alone_runs_only_its_jobs_and_the_report(alone_runs):
    work, runs = alone_runs
    run = runs["ct"]
    assert set(run["jobs"]) == CT | set(REPORT)  # fbp only: no RAM weights
    assert "Segmentation is off in this run: `branches` does not list segmentation" in run["html"]
    assert {"method", "views", "noise"} <= set(run["ct"].columns)
    assert list(run["ap"].columns) == ["note"]
    # the segmentation results of the first run are still there, untouched
    assert list((work / "results" / "features").rglob("*.parquet"))


def test_switching_a_branch_on_reruns_none_of_the_others_jobs(alone_runs):
    work, _ = alone_runs
    for branches in (None, ["segmentation", "ct"], ["segmentation"]):
        jobs = scheduled_jobs(run_snakemake(work, small_config(branches), "-n"))
        assert set(jobs) == set(REPORT), (branches, jobs)  # the report shows the config


@pytest.mark.parametrize(
    ("name", "branch", "expected"),
    [("test-video.yaml", "video", VIDEO), ("test-classify.yaml", "classify", CLASSIFY)],
)
def test_video_or_classify_alone_plans_only_its_jobs(tmp_path, name, branch, expected):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    config = merged(["test.yaml", name])
    config["branches"] = [branch]
    jobs = scheduled_jobs(run_snakemake(workspace(tmp_path), config, "-n"))
    assert set(jobs) == expected | set(REPORT)


def slurm_jobs(text: str) -> list[dict]:
    """Each planned job of a dry run: rule, wildcards and resources (name -> value)."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:\n)", text):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):\n", block)
        found = re.search(r"^    resources: (.*)$", block, re.M)
        if head and found:
            pairs = (kv.split("=", 1) for kv in found.group(1).split(", "))
            wildcards = re.search(r"^    wildcards: (.*)$", block, re.M)
            jobs.append(
                {
                    "rule": head.group(1),
                    "wildcards": wildcards.group(1) if wildcards else "",
                    "resources": dict(pairs),
                }
            )
    return jobs


@pytest.mark.parametrize("name", TEST_CONFIGS)
def test_slurm_gpu_jobs_go_to_the_gpu_partition(tmp_path, monkeypatch, name):
    """Every job whose rule's `gpu` resource is above 0 for it gets the GPU partition."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    monkeypatch.setenv("FMEVAL_SLURM_PARTITION", "cpu-q")
    monkeypatch.setenv("FMEVAL_SLURM_GPU_PARTITION", "gpu-q")
    config = merged(["test.yaml"] if name == "test.yaml" else ["test.yaml", name])
    proc = run_snakemake(
        workspace(tmp_path), config, "-n", "--profile", str(REPO / "profiles" / "slurm")
    )
    jobs = slurm_jobs(proc.stdout + proc.stderr)
    assert len(jobs) == sum(scheduled_jobs(proc).values())  # every planned job
    gpu = [j for j in jobs if int(j["resources"].get("gpu", 0)) > 0]
    assert gpu and len(gpu) < len(jobs)
    for job in jobs:
        want = "gpu-q" if job in gpu else "cpu-q"
        assert job["resources"].get("slurm_partition") == want, job
    if name == "test-video.yaml":
        assert "predict_video_masks" in {j["rule"] for j in gpu}
    if name == "test.yaml":  # CT: ram and tv use the GPU, fbp does not
        ct = {
            j["wildcards"].split(",")[0]: j in gpu
            for j in jobs
            if j["rule"] == "reconstruct_sinograms"
        }
        assert ct == {"method=fbp": False, "method=ram": True, "method=tv": True}


def test_a_video_and_a_classify_dataset_of_one_name_is_one_config_line(tmp_path):
    """Not Snakemake's AmbiguousRuleException: both would be resources/datasets/<name>/."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    config = merged(["test.yaml", "test-video.yaml", "test-classify.yaml"])
    config["classify"]["datasets"] = {
        "davis16-video": config["classify"]["datasets"]["davis-frames"]
    }
    proc = run_snakemake(workspace(tmp_path), config, "-n", check=False)
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "error" in line.lower()]
    assert proc.returncode != 0 and not scheduled_jobs(proc)
    assert errors == [
        "config error: classify.datasets.davis16-video: the name 'davis16-video' is also a "
        "video dataset (video.datasets.davis16-video); every branch's datasets live in "
        "resources/datasets/<name>/, so rename one"
    ]
