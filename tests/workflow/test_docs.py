"""The documentation's examples run: README.md's bash, yaml and python blocks and the config
files' commented commands and snippets (found by tests/docs_examples.py, so a new example is
tested without a new test).

Commands run as written in a fresh working folder beside ``../shared`` (the repository's files
linked in), where ``.venv/bin/snakemake`` and ``snakemake`` are the real snakemake with ``-n``:
every run is a dry run, which plans the whole workflow and checks the config. Python blocks run
in the working folder of the test config's full run (the shared ``full_run`` fixture).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import NO_SLURM, REPO, SHARED_DATA, SNAKEMAKE
from docs_examples import runnable

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent")

# Examples that need a fix another branch makes (by a piece of their code): xfail until merged.
LINKED = ["Snakefile", "config", "config.yaml", "profiles", "rules", "schemas", "scripts"]
LINKED += ["tests", "report", "envs", "Makefile", "perf"]


def _params(lang: str) -> list:
    return [pytest.param(example, id=example.id) for example in runnable(lang)]


def checkout(root: Path) -> Path:
    """A working folder like a fresh clone's, with ``../shared`` beside it and a ``.venv``
    whose snakemake is the real one with ``-n``."""
    (root / "shared").symlink_to(REPO.parent / "shared")
    work = root / "fmeval"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(REPO / name)
    (work / "my.yaml").write_text((REPO / "config" / "test.yaml").read_text())  # "your config"
    bin_dir = work / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, target, extra in (("snakemake", SNAKEMAKE, "-n "), ("python", sys.executable, "")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{target}" {extra}"$@"\n')
        script.chmod(0o755)
    return work


def run_bash(work: Path, code: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{work / '.venv' / 'bin'}{os.pathsep}{NO_SLURM}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO / "scripts"),
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def planned_totals(text: str) -> list[int]:
    """The 'total' of every dry run's job table in ``text``."""
    return [int(n) for n in re.findall(r"^total\s+(\d+)\s*$", text, flags=re.M)]


def write_placeholders(work: Path, names: str) -> None:
    """Stand-ins for checkpoints a user copies in: tensors only, so a plan accepts them."""
    import torch

    for name in names.split():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file({"placeholder": torch.zeros(1)}, str(path))
        else:
            torch.save({"placeholder": torch.zeros(1)}, path)


def check(proc: subprocess.CompletedProcess, example) -> str:
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{example.where} failed:\n{example.code}\n{text[-6000:]}"
    return text


@pytest.mark.parametrize("example", _params("bash"))
def test_bash_example_runs(tmp_path, example):
    work = checkout(tmp_path)
    text = check(run_bash(work, example.code), example)
    totals = planned_totals(text)
    if "--unlock" in example.code:
        assert "Unlocked working directory" in text, f"{example.where}:\n{text[-3000:]}"
    elif re.search(r"(^|\s)(\.venv/bin/)?snakemake\s", example.code):
        assert totals, f"{example.where}: no plan\n{text[-3000:]}"
    if "jobs" in example.tags:  # a dry run prints its job table twice
        assert set(totals) == {int(example.tags["jobs"])}, f"{example.where}: planned {totals}"


@pytest.mark.parametrize("example", _params("yaml"))
def test_config_snippet_plans(tmp_path, example):
    """A snippet merged into the test config (later config files are merged key by key)."""
    work = checkout(tmp_path)
    snippet = yaml.safe_load(example.code)
    assert isinstance(snippet, dict) and snippet, f"{example.where}: not a config mapping"
    if "files" in example.tags:
        write_placeholders(work, example.tags["files"])
    (work / "snippet.yaml").write_text(example.code)
    cmd = ".venv/bin/snakemake --cores 2 --configfile config/test.yaml snippet.yaml"
    text = check(run_bash(work, cmd), example)
    totals = planned_totals(text)
    assert totals and totals[0] > 1, f"{example.where}: nothing planned\n{text[-3000:]}"
    if "jobs" in example.tags:
        assert set(totals) == {int(example.tags["jobs"])}, f"{example.where}: planned {totals}"


@pytest.mark.parametrize("example", _params("python"))
def test_python_example_reads_the_outputs(full_run, example):
    """Loading snippets run, without fmeval on the path, on the test config's full run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", example.code],
        cwd=full_run,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    check(proc, example)
    assert proc.stdout.strip(), f"{example.where} printed nothing"
