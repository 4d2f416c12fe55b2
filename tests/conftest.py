"""Shared fixtures: paths, the test config with absolute paths, and a snakemake runner.

Every workflow test runs snakemake in its own temporary working directory
(``--directory``), so tests never touch the repository's results/ or resources/.
"""

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

# As the pipeline's jobs (rules/common.smk): torch's OpenMP threads sleep between parallel
# regions instead of spinning. Two workers x 2 threads share 2 cores here, and spinning
# threads made the many small operations of the CT tests several times slower. libgomp reads
# it once, when torch loads, so it is set before any test module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "davis2016-fg"
HUB_FIXTURE = REPO / "tests" / "fixtures" / "dinov2_hub"
DINOV3_HUB = REPO / "tests" / "fixtures" / "dinov3_hub"  # DINOv3's hub API, random init only
OFFICIAL_DINOV2_HUB = REPO.parent / "shared" / "hub" / "dinov2"  # facebookresearch/dinov2 code
OFFICIAL_DINOV3_HUB = REPO.parent / "shared" / "hub" / "dinov3"  # facebookresearch/dinov3 code
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# snakemake-executor-plugin-slurm runs `scontrol show config` (10 s timeout) each time snakemake
# loads its plugins. Where Slurm's client is installed and no controller is up (here, outside
# test_cluster), every snakemake start waited those 10 s: ~60 starts, 5 minutes of the suite.
# Runs that do not use Slurm find this folder's `scontrol` first on PATH; it fails at once.
NO_SLURM = REPO / "tests" / "fixtures" / "no_slurm"

sys.path.insert(0, str(REPO / "scripts"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tests under tests/workflow/ start snakemake: mark them ``integration``.

    The suite runs on both cores with ``--dist loadfile`` (each file on one worker, so its
    module fixtures run once); the files that share ``full_run`` share it across workers.
    """
    for item in items:
        if "workflow" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


def absolutise(config: dict, base: Path = REPO) -> dict:
    """The test config with every relative source path made absolute against ``base``."""
    config = copy.deepcopy(config)

    def fix(value: str) -> str:
        if "://" in value or os.path.isabs(value):
            return value
        return str((base / value).resolve())

    for ds in config.get("datasets", {}).values():
        for part in ("images", "labels"):
            ds[part]["source"] = fix(ds[part]["source"])
        for t in ds.get("test_images", []):
            for key in ("image", "mask"):
                if t.get(key):
                    t[key] = fix(t[key])
    for m in config.get("models", {}).values():
        if m.get("repo") and (base / m["repo"]).exists():
            m["repo"] = fix(m["repo"])
        if m.get("weights") not in (None, "pretrained", "random"):
            m["weights"] = fix(m["weights"])
    return config


def load_test_config() -> dict:
    return absolutise(yaml.safe_load((REPO / "config" / "test.yaml").read_text()))


def write_config(workdir: Path, config: dict) -> Path:
    path = Path(workdir) / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_env(*, slurm: bool = False, **extra: str) -> dict[str, str]:
    """The environment of a snakemake run: the package on PYTHONPATH, and unless ``slurm``,
    :data:`NO_SLURM` first on PATH."""
    path = os.environ.get("PATH", "")
    if not slurm:
        path = f"{NO_SLURM}{os.pathsep}{path}"
    return {**os.environ, "PATH": path, "PYTHONPATH": str(REPO / "scripts"), **extra}


def run_snakemake(
    workdir: Path,
    config: dict | None = None,
    *args: str,
    check: bool = True,
    timeout: int = 1800,
    slurm: bool = False,
) -> subprocess.CompletedProcess:
    """Run the repo's Snakefile in ``workdir`` on ``config`` (written to workdir/config.yaml);
    ``slurm``: the run submits to Slurm (the real ``scontrol`` on PATH)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2"]
    if config is not None:
        cmd += ["--configfile", str(write_config(workdir, config))]
    cmd += list(args)
    env = snakemake_env(slurm=slurm)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def run_with_config(
    workdir: Path, config: dict, *args: str, **kwargs
) -> subprocess.CompletedProcess:
    """``run_snakemake`` in ``workdir`` on ``config`` written to a file of its own, leaving
    ``workdir/config.yaml`` alone (tests on the other pytest-xdist worker may read it)."""
    fd, path = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=workdir)
    os.close(fd)
    try:
        Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
        return run_snakemake(workdir, None, "--configfile", path, *args, **kwargs)
    finally:
        os.unlink(path)


def scheduled_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts by rule from a dry run's 'Job stats' table (empty when nothing to do)."""
    text = proc.stdout + proc.stderr
    counts: dict[str, int] = {}
    if "Job stats:" not in text:
        return counts
    table = text.split("Job stats:", 1)[1].splitlines()
    for line in table[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture
def test_config() -> dict:
    """config/test.yaml with absolute paths (needs ../shared/data/davis2016-fg)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return load_test_config()


@pytest.fixture(scope="session")
def full_run(tmp_path_factory) -> Path:
    """The working folder of one whole run of the test config (everything up to the report).

    Shared by the report, browser and cluster tests, so the suite pays for it once: under
    pytest-xdist the first worker to need it runs it while holding a lock, the others wait
    and reuse its folder. With ``FMEVAL_FULL_RUN=<folder>`` the run happens (incrementally)
    in that folder instead of a fresh one, so iterating on the report reuses the features and
    reconstructions.
    """
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    reuse = os.environ.get("FMEVAL_FULL_RUN")
    if reuse:
        run_snakemake(Path(reuse), load_test_config())
        return Path(reuse)
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # unset without xdist (or with -p no:xdist)
    root = base.parent if worker else base  # shared by every worker
    workdir, done = root / "full_run", root / "full_run.done"
    with FileLock(root / "full_run.lock"):
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)
            run_snakemake(workdir, load_test_config())
            done.touch()
    return workdir
