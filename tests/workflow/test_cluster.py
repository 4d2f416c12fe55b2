"""The test config on a real (single-node) Slurm cluster through `--profile profiles/slurm`.

``../shared/tools/slurm-localhost.sh up`` starts slurmctld, slurmd, slurmdbd and MariaDB
on this host with a fake GPU as GRES; the fixture stops them again. The test shows:

1. every compute job went through sbatch, and the GPU rules asked for ``--gpus=1``
   (sacct's SubmitLine of each job of this run);
2. the download rules ran on the submitting host (no Slurm job; `localrule` in the log);
3. the metric tables and features are identical to those of the local run of the test
   config (``full_run``), row for row;
4. the features are extracted in 2 shards (issue 27, ``features.shards``), each its own
   Slurm job, and the shard set holds the local run's single file's rows.

The cluster runs the test config cut to one resolution, one view count and one noise level
(:func:`cluster_config`): every rule still goes through Slurm, in about a third of the time,
and its rows are a subset of the local run's.
"""

import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, load_test_config, run_snakemake, scheduled_jobs

from fmeval.ct.methods import METHODS as CT_METHODS

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

SLURM_SCRIPT = REPO.parent / "shared" / "tools" / "slurm-localhost.sh"
# and reconstruct_sinograms for ram and tv
GPU_RULES = {"extract_features", "extract_feature_shard", "render_attention"}
GPU_METHODS = {name for name, m in CT_METHODS.items() if m.gpu}  # the records' (ram, tv)
LOCAL_RULES = {"download_dataset", "fetch_model", "fetch_ram_weights"}
ACCOUNT, PARTITION = "ci", "debug"
SHARDS = 2


@pytest.fixture(scope="module")
def slurm():
    """A running localhost Slurm (started here, stopped at the end)."""
    if not SLURM_SCRIPT.is_file():
        pytest.skip(f"{SLURM_SCRIPT} is absent: no way to start a test Slurm cluster here")
    if os.geteuid() != 0:
        pytest.skip("slurm-localhost.sh needs root to install and start Slurm")
    env = {
        **os.environ,
        "SLURM_ACCOUNT": ACCOUNT,
        "SLURM_PARTITION": PARTITION,
        "SLURM_FAKE_GPUS": "1",
    }
    # Start from an empty queue: jobs left by a killed earlier run (kept in Slurm's state
    # files) would hold the node, and the smoke test and this run would wait for them forever.
    subprocess.run(
        ["bash", str(SLURM_SCRIPT), "down", "--purge"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    try:
        up = subprocess.run(
            ["bash", str(SLURM_SCRIPT), "up"], capture_output=True, text=True, env=env, timeout=300
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"slurm-localhost.sh up did not finish in 300 s:\n{err.stdout}\n{err.stderr}")
    try:
        if up.returncode != 0:
            pytest.fail(f"slurm-localhost.sh up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
        yield
    finally:
        subprocess.run(
            ["bash", str(SLURM_SCRIPT), "down"], capture_output=True, text=True, timeout=300
        )


KEYS = ("dataset", "model", "res", "image", "C", "method", "views", "noise")  # a table row's id


def cluster_config() -> dict:
    """The test config with one resolution, one view count and one noise level."""
    config = load_test_config()
    config["resolutions"] = config["resolutions"][:1]
    config["ct"]["views"] = config["ct"]["views"][-1:]
    config["ct"]["noise"] = dict(list(config["ct"]["noise"].items())[-1:])
    config["features"] = {"shards": SHARDS}  # issue 27: each shard one Slurm job
    return config


@pytest.fixture(scope="module")
def slurm_run(slurm, tmp_path_factory):
    """:func:`cluster_config` run through the slurm profile; returns (workdir, snakemake output).

    It does not wait for ``full_run`` (only the comparisons do), so under xdist the two
    runs can overlap on the two workers.
    """
    workdir = tmp_path_factory.mktemp("slurm_run")
    env = {"FMEVAL_SLURM_ACCOUNT": ACCOUNT, "FMEVAL_SLURM_PARTITION": PARTITION}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        proc = run_snakemake(
            workdir,
            cluster_config(),
            "--profile",
            str(REPO / "profiles" / "slurm"),
            # poll fast: jobs here take seconds, not hours
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--seconds-between-status-checks",
            "2",
            "--slurm-keep-successful-logs",
            "--latency-wait",
            "5",
            slurm=True,
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return workdir, proc.stdout + proc.stderr


def submitted_jobs(workdir: Path) -> list[dict]:
    """This run's Slurm jobs from sacct: rule (from the plugin's --comment) and the sbatch line."""
    out = subprocess.run(
        [
            "sacct",
            "-a",
            "-X",
            "-n",
            "-P",
            "-S",
            "now-2hours",
            "-o",
            "JobID,Account,Partition,State,SubmitLine",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    jobs = []
    for line in out.splitlines():
        job_id, account, partition, state, submit = line.split("|", 4)
        if f"-D {workdir}" not in submit:
            continue
        m = re.search(r"--comment '?rule_(\w+?)(?:_wildcards_(\S*?))?'? ", submit)
        assert m, f"no rule name in the submit line of job {job_id}: {submit[:300]}"
        jobs.append(
            {
                "id": job_id,
                "rule": m.group(1),
                "wildcards": m.group(2) or "",
                "account": account,
                "partition": partition,
                "state": state,
                "submit": submit,
            }
        )
    return jobs


def wants_gpu(job: dict) -> bool:
    if job["rule"] == "reconstruct_sinograms":
        return job["wildcards"].split("_")[0] in GPU_METHODS
    return job["rule"] in GPU_RULES


def test_gpu_rules_submitted_with_one_gpu(slurm_run):
    workdir, _ = slurm_run
    jobs = submitted_jobs(workdir)
    shards = [j["wildcards"] for j in jobs if j["rule"] == "extract_feature_shard"]
    assert len(set(shards)) == len(shards) == SHARDS, f"shard jobs in sacct: {shards}"
    methods = {j["wildcards"].split("_")[0] for j in jobs if j["rule"] == "reconstruct_sinograms"}
    assert methods in (set(), {"fbp", "ram", "tv"}), methods  # the test config's CT methods
    for job in jobs:
        assert job["state"] == "COMPLETED", job
        assert (job["account"], job["partition"]) == (ACCOUNT, PARTITION), job
        gpus = re.findall(r"--gpus=(\S+)", job["submit"])
        assert gpus == (["1"] if wants_gpu(job) else []), (job["rule"], job["wildcards"], gpus)
    for j in jobs:  # shown with -s: the evidence
        print(j["id"], j["rule"], j["wildcards"], *re.findall(r"--gpus=\S+", j["submit"]))


def test_downloads_ran_on_submitting_host(slurm_run):
    workdir, log = slurm_run
    rules = {j["rule"] for j in submitted_jobs(workdir)}
    assert not rules & LOCAL_RULES, f"download rules were submitted to Slurm: {rules & LOCAL_RULES}"
    ran = scheduled_jobs(SimpleNamespace(stdout=log, stderr=""))
    assert {"download_dataset", "fetch_model"} <= ran.keys(), ran
    for rule in LOCAL_RULES & ran.keys():
        # download_dataset is a checkpoint (issue 27): "localcheckpoint"
        assert re.search(rf"^local(rule|checkpoint) {rule}:", log, re.M), f"{rule} not local"
    submitted = set(re.findall(r"submitted with SLURM jobid \d+ \(log: \S*/rule_(\w+?)/", log))
    assert "extract_feature_shard" in submitted and not submitted & LOCAL_RULES, submitted
    assert list((workdir / "resources" / "models").glob("*.json"))


def _tables(root: Path) -> dict[str, Path]:
    report = root / "results" / "report"
    return {str(p.relative_to(root)): p for p in sorted(report.rglob("*.csv"))}


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Drop timing columns: wall times differ between any two runs."""
    timing = [c for c in table.columns if re.search(r"(^|_)(time|seconds|wall|s)$", c.lower())]
    return table.drop(columns=timing)


def _rows_like(local: pd.DataFrame, cluster: pd.DataFrame) -> pd.DataFrame:
    """The local table's rows that the cluster's table has (same ids), in the local order."""
    keys = [k for k in KEYS if k in cluster.columns]
    ids = set(cluster[keys].itertuples(index=False, name=None))
    keep = [row in ids for row in local[keys].itertuples(index=False, name=None)]
    return local[keep].reset_index(drop=True)


def test_metric_tables_identical_to_local_run(slurm_run, full_run):
    workdir, _ = slurm_run
    local, cluster = _tables(full_run), _tables(workdir)
    assert local.keys() == cluster.keys()
    assert "results/report/ap.csv" in local and "results/report/ct.csv" in local
    for name in local:
        a, b = (_comparable(pd.read_csv(t[name])) for t in (local, cluster))
        assert len(b), name
        a = _rows_like(a, b)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)


def test_features_identical_to_local_run(slurm_run, full_run):
    """Each cell's shard set (patches and CLS) holds the local single file's rows, in order."""
    from fmeval.features.store import read_cls, read_features

    workdir, _ = slurm_run
    cells = sorted((workdir / "results" / "features").rglob(f"*.shards{SHARDS}"))
    assert cells
    for cell in cells:
        local = full_run / cell.relative_to(workdir).parent / cell.name.split(".")[0]
        a, b = read_features(f"{local}.parquet"), read_features(cell / "patches")
        assert len(list((cell / "patches").glob("*.parquet"))) == SHARDS, cell
        assert a.images == b.images, cell
        for field in ("features", "image_index", "row", "col", "fg_fraction"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        x, y = read_cls(f"{local}.cls.parquet"), read_cls(cell / "cls")
        assert x.images == y.images, cell
        np.testing.assert_array_equal(x.cls, y.cls, err_msg=str(cell))


def test_slurm_logs_kept(slurm_run):
    workdir, _ = slurm_run
    logs = list((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert any("rule_extract_feature_shard" in str(p) for p in logs)
