"""Through snakemake: unusable sources are refused by the dry run; a checkpoint replaced
in place reruns what was computed from it, and the metadata carries its new hash."""

import os
import subprocess
from pathlib import Path

import pytest
import synthetic
import torch
from conftest import (
    HUB_FIXTURE,
    REPO,
    SNAKEMAKE,
    load_test_config,
    run_snakemake,
    scheduled_jobs,
    snakemake_env,
    write_config,
)

from fmeval.io.tables import read_meta

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, **models) -> dict:
    config = load_test_config()
    config["datasets"] = {"syn": synthetic.make_dataset(tmp_path / "src")}
    config["resolutions"] = [28]
    config["models"] = models or {
        "m": {
            "backend": "torchhub",
            "name": "dinov2_vits14",
            "repo": str(HUB_FIXTURE),
            "patch_size": 14,
            "weights": "random",
        }
    }
    return config


@pytest.mark.parametrize(
    "source, words",
    [
        ("gopher://example.org/i.tar.gz", ["gopher://example.org/i.tar.gz", "https://"]),
        ("ftp://example.org/i.tar.gz", ["ftp://example.org/i.tar.gz", "https://"]),
        ("http://example.org/i.tar.gz", ["http://example.org/i.tar.gz", "sha256"]),
        ("file:///nonexistent/i.tar.gz", ["/nonexistent/i.tar.gz", "does not exist"]),
        ("nonexistent/i.tar.gz", ["nonexistent/i.tar.gz", "does not exist"]),
    ],
)
def test_dry_run_refuses_unusable_sources(tmp_path, source, words):
    config = _config(tmp_path)
    config["datasets"]["syn"]["images"] = {"source": source}
    proc = run_snakemake(tmp_path / "run", config, "-n", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for word in words + ["datasets.syn.images.source"]:
        assert word in text, text[-3000:]


def _run(work: Path, config: dict, target: str, *args: str):
    # --cores before the target: --configfile (from run_snakemake) would take it as a file
    return run_snakemake(work, config, "--cores", "2", *args, target)


def _hub_checkpoint(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = torch.hub.load(str(HUB_FIXTURE), "dinov2_vits14", source="local", pretrained=False)
    torch.save(model.state_dict(), path)
    return path


def _after(path: Path, output: Path) -> None:
    """``path``, just replaced in place, gets an mtime after ``output``'s as a copy made later
    has, even on a coarse clock; never a future one (snakemake takes an output older than the
    system time's input for clock skew, and fails the job)."""
    out = output.stat().st_mtime_ns
    if path.stat().st_mtime_ns <= out:
        os.utime(path, ns=(out + 1_000_000, out + 1_000_000))


def test_checkpoint_replaced_in_place_reruns_its_features(tmp_path):
    weights = _hub_checkpoint(tmp_path / "w.pth", seed=1)
    config = _config(
        tmp_path,
        m={
            "backend": "torchhub",
            "name": "dinov2_vits14",
            "repo": str(HUB_FIXTURE),
            "patch_size": 14,
            "weights": str(weights),
        },
    )
    work = tmp_path / "run"
    target = "results/features/syn/m/28.parquet"
    _run(work, config, target)
    first = read_meta(work / target)
    assert scheduled_jobs(_run(work, config, target, "-n")) == {}

    _hub_checkpoint(weights, seed=2)  # the same path, new weights
    _after(weights, work / "resources/models/m.json")
    jobs = scheduled_jobs(_run(work, config, target, "-n"))
    assert jobs.get("fetch_model") == 1 and jobs.get("extract_features") == 1, jobs

    _run(work, config, target)
    second = read_meta(work / target)
    assert second["weights"] != first["weights"]
    assert (
        second["weights"]
        == "sha256:" + __import__("hashlib").sha256(weights.read_bytes()).hexdigest()
    )


def test_ram_checkpoint_replaced_in_place_refetches(tmp_path):
    import deepinv as dinv

    path = tmp_path / "ram.pth"
    torch.save(dinv.models.RAM(pretrained=False).state_dict(), path)
    config = _config(tmp_path)
    config["ct"]["ram"]["weights"] = str(path)
    work = tmp_path / "run"
    target = "resources/ct/ram-weights.json"
    _run(work, config, target)
    assert scheduled_jobs(_run(work, config, target, "-n")) == {}
    torch.manual_seed(3)
    torch.save(dinv.models.RAM(pretrained=False).state_dict(), path)
    _after(path, work / target)
    assert scheduled_jobs(_run(work, config, target, "-n")) == {"fetch_ram_weights": 1}


# --- a read-only results/ (issue 23): one line when the run starts, before any job -------

_READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'


def _read_only(folder: Path, *cmd: str) -> list[str]:
    """``cmd`` run with ``folder`` mounted read-only in a mount namespace of its own (no
    mount outlives it); as a non-root user, in a user namespace too."""
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    return [*unshare, "sh", "-c", _READ_ONLY, "sh", str(folder), *cmd]


def _skip_unless_read_only_mounts(tmp_path: Path) -> None:
    folder = tmp_path / "probe"
    folder.mkdir()
    try:
        proc = subprocess.run(
            _read_only(folder, "touch", str(folder / "x")), capture_output=True, text=True
        )
    except FileNotFoundError:
        pytest.skip("no unshare command: cannot make a read-only mount here")
    if "Read-only file system" not in proc.stderr:
        pytest.skip(f"this machine cannot make a read-only bind mount: {proc.stderr.strip()}")


def test_read_only_results_is_one_line_before_any_job(tmp_path):
    _skip_unless_read_only_mounts(tmp_path)
    work = tmp_path / "run"
    (work / "results").mkdir(parents=True)
    config = write_config(work, _config(tmp_path))
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "1"]
    cmd += ["--configfile", str(config)]
    for _ in range(2):  # the second run says the same: no lock or leftover stands in its way
        proc = subprocess.run(
            _read_only(work / "results", *cmd),
            capture_output=True,
            text=True,
            env=snakemake_env(),
            timeout=600,
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert (
            "environment error: cannot write in results/: read-only file system (EROFS); "
            "nothing was run. Remount it read-write, or run fmeval in a writable working "
            "directory (snakemake --directory <folder>), and rerun." in text
        ), text[-3000:]
        assert "Traceback" not in text and "WorkflowError" not in text, text[-3000:]
        assert "localrule" not in text and "rule " not in text.split("Job stats:")[-1]
    assert not (work / "resources").exists() or not any((work / "resources").iterdir())
    assert not any((work / "results").iterdir())
