"""The rules ask for what the method records say (fmeval.ct.methods, fmeval.video.methods,
fmeval.classify.methods): in one dry run of the test config with the video and
classification sections added, every job of a method's rule requests a GPU exactly when the
method's record says it uses one, and every method of the records is planned."""

import re

import pytest
import yaml
from conftest import REPO, SHARED_DATA, absolutise, load_test_config, run_snakemake

from fmeval.classify.methods import METHODS as CLASSIFY
from fmeval.ct.methods import METHODS as CT
from fmeval.video.methods import METHODS as VIDEO

VIDEO_DATA = REPO.parent / "shared" / "data" / "davis2016-video"
JOB = re.compile(r"^rule (\w+):\n((?:    .*\n)+)", re.M)


def all_branches_config() -> dict:
    config = load_test_config()
    config["ct"]["methods"] = list(CT)
    video = yaml.safe_load((REPO / "config" / "test-video.yaml").read_text())["video"]
    video["datasets"]["davis16-video"]["source"] = str(VIDEO_DATA)
    config["video"] = {**video, "methods": list(VIDEO)}
    classify = absolutise(yaml.safe_load((REPO / "config" / "test-classify.yaml").read_text()))
    config["classify"] = classify["classify"]
    entry = config["classify"]["datasets"]["davis-frames"]
    entry["source"] = str((REPO / entry["source"]).resolve())
    return config


def planned_jobs(text: str) -> list[tuple[str, dict, dict]]:
    """(rule, wildcards, resources) of every job a dry run prints."""
    jobs = []
    for rule, body in JOB.findall(text):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        wildcards = dict(p.split("=", 1) for p in fields.get("wildcards", "").split(", ") if p)
        resources = dict(p.split("=", 1) for p in fields.get("resources", "").split(", ") if p)
        jobs.append((rule, wildcards, resources))
    return jobs


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> list[tuple[str, dict, dict]]:
    if not (SHARED_DATA.is_dir() and VIDEO_DATA.is_dir()):
        pytest.skip(f"{SHARED_DATA} or {VIDEO_DATA} is absent")
    workdir = tmp_path_factory.mktemp("records")
    proc = run_snakemake(workdir, all_branches_config(), "-n", "--forceall", timeout=300)
    return planned_jobs(proc.stdout + proc.stderr)


RULES = {
    "reconstruct_sinograms": (CT, lambda wc: wc["method"]),
    "predict_video_masks": (VIDEO, lambda wc: wc["method"]),
    **{spec.rule: (CLASSIFY, lambda wc, name=name: name) for name, spec in CLASSIFY.items()},
}


@pytest.mark.parametrize("rule", RULES)
def test_each_job_asks_for_a_gpu_exactly_when_its_record_says(jobs, rule):
    records, method_of = RULES[rule]
    found = [(method_of(wc), int(res.get("gpu", 0))) for r, wc, res in jobs if r == rule]
    assert found, f"the dry run planned no {rule} job"
    wrong = {m: gpu for m, gpu in found if gpu != int(records[m].gpu)}
    assert not wrong, f"{rule}: GPU request differs from the record for {wrong}"
    if records is not CLASSIFY:  # every method of the records is planned
        assert {m for m, _ in found} == set(records)


def test_only_tunable_methods_are_tuned(jobs):
    tuned = {wc["method"] for r, wc, _ in jobs if r == "tune_baseline"}
    assert tuned and tuned <= {n for n, m in CT.items() if m.tunable}
