"""Facts about the run for the summary: pipeline version and commit, host, devices, libraries."""

import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from fmeval.io.reading import read_json
from fmeval.io.tables import read_meta
from fmeval.report.tables import RERUN

LIBRARIES = (
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "torch",
    "torchvision",
    "timm",
    "deepinv",
    "dival",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scikit-image",
    "matplotlib",
    "jinja2",
)
NOT_RECORDED = "not recorded"


def pipeline_version() -> str:
    """fmeval's version, as installed (``pip install -e .``), else ``pyproject.toml``'s."""
    try:
        return metadata.version("fmeval")
    except metadata.PackageNotFoundError:
        return "unknown (fmeval is not installed)"


def git_commit(workflow_dir: str | os.PathLike) -> str:
    """The commit of the workflow's checkout, ``+ local changes`` when it is dirty, or
    ``not a git checkout``.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(workflow_dir), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"{commit} + local changes" if dirty else commit


def host() -> str:
    return platform.node() or "unknown"


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def recorded_device(path: str | os.PathLike) -> str:
    """The ``device`` a job recorded: in a Parquet file's metadata or a JSON record."""
    meta = read_meta(path) if str(path).endswith(".parquet") else read_json(path, fix=RERUN)
    return str(meta.get("device") or NOT_RECORDED)


def devices_used(records: Mapping[str, Sequence[str]]) -> list[dict]:
    """Per (rule, device): how many jobs ran there; ``records`` maps a rule to the
    files its jobs wrote (feature files, probe summaries, reconstruction records).
    """
    rows = []
    for rule, paths in records.items():
        counts: dict[str, int] = {}
        for path in paths:
            device = recorded_device(path)
            counts[device] = counts.get(device, 0) + 1
        rows += [{"rule": rule, "device": d, "jobs": n} for d, n in sorted(counts.items())]
    return rows


def workflow_root() -> Path:
    """The repository this package lives in (scripts/fmeval/report/ -> the root)."""
    return Path(__file__).resolve().parents[3]
