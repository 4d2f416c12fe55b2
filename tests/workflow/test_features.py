"""The workflow up to the features, end to end through snakemake, in temporary folders.

- a synthetic dataset (tarballs in the DAVIS/DINOv3 format, file:// sources, random
  ViT-S/14 through the local hub fixture), run with every TCP connection blocked;
- incremental runs: nothing to redo, one new resolution, a job killed mid-write;
- the default config: a dry run touches no network, and the real run fails fast offline
  with one message;
- the real DAVIS frames in ../shared (when present);
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import synthetic
import torch
import yaml
from conftest import (
    REPO,
    SHARED_DATA,
    SNAKEMAKE,
    load_test_config,
    scheduled_jobs,
    snakemake_env,
    write_config,
)
from PIL import Image

from fmeval.features.store import read_cls, read_features
from fmeval.io.tables import read_meta

pytestmark = pytest.mark.integration

MODEL = "dinov2_vits14"
RESOLUTIONS = [28, 42]

# Imported by every Python process (snakemake and its jobs) through PYTHONPATH.
SITECUSTOMIZE = """
import os, signal, socket

_LOG = os.environ.get("FMEVAL_TEST_NETLOG")
if _LOG:
    _connect, _gai = socket.socket.connect, socket.getaddrinfo

    def _note(what):
        with open(_LOG, "a") as fh:
            fh.write(f"{os.getpid()} {what}\\n")

    def connect(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _note(f"connect {address!r}")
            raise OSError(101, "Network is unreachable (blocked by the fmeval test)")
        return _connect(self, address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost", "127.0.0.1", "::1"):
            _note(f"getaddrinfo {host!r}")
            raise socket.gaierror(
                -3, "Temporary failure in name resolution (blocked by the fmeval test)"
            )
        return _gai(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.getaddrinfo = getaddrinfo

_KILL_AT = os.environ.get("FMEVAL_TEST_KILL_AT")
if _KILL_AT:
    _replace = os.replace

    def replace(src, dst, *args, **kwargs):
        # The moment a finished temporary file would become the output: kill -9
        # snakemake and this job, as a node failure or an OOM killer would.
        if str(dst).endswith(_KILL_AT):
            os.killpg(int(open(os.environ["FMEVAL_TEST_KILL_PGID"]).read()), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)

    os.replace = replace
"""


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("site")
    (path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return path


def snakemake(
    workdir: Path, config: dict | Path, *args: str, site: Path, env: dict | None = None, popen=False
):
    """Like conftest.run_snakemake, with our sitecustomize on PYTHONPATH and extra env."""
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = config if isinstance(config, Path) else write_config(workdir, config)
    # targets first: --configfile takes every word after it
    cmd = [
        SNAKEMAKE,
        *args,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
    ]
    cmd += ["--configfile", str(configfile)]
    full_env = snakemake_env(PYTHONPATH=f"{site}{os.pathsep}{REPO / 'scripts'}", **(env or {}))
    if popen:
        return subprocess.Popen(
            cmd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=900)


def feature_targets(dataset: str, resolutions) -> list[str]:
    return [
        f"results/features/{dataset}/{MODEL}/{r}{ext}"
        for r in resolutions
        for ext in (".parquet", ".cls.parquet")
    ]


def synth_config(data: dict, resolutions) -> dict:
    config = load_test_config()
    config["datasets"] = {"synth": data}
    config["resolutions"] = list(resolutions)
    config["batch_size"] = 2
    return config


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory, site_dir):
    """One full run on the synthetic dataset, with the network blocked throughout."""
    root = tmp_path_factory.mktemp("synth_wf")
    data = synthetic.make_dataset(root / "data")
    workdir = root / "work"
    netlog = root / "net.log"
    config = synth_config(data, RESOLUTIONS)
    proc = snakemake(
        workdir,
        config,
        *feature_targets("synth", RESOLUTIONS),
        site=site_dir,
        env={"FMEVAL_TEST_NETLOG": str(netlog)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return {"workdir": workdir, "data": data, "netlog": netlog, "proc": proc, "config": config}


def expected_cells(res: int) -> dict[str, int]:
    sizes = {s: (w, h) for s, w, h in synthetic.TRAIN} | {
        s: (w, h) for s, w, h, _ in synthetic.TEST
    }
    return {name: synthetic.grid_cells(w, h, res=res) for name, (w, h) in sizes.items()}


@pytest.mark.parametrize("res", RESOLUTIONS)
def test_synthetic_features(synth_run, res):
    workdir = synth_run["workdir"]
    pf = read_features(workdir / f"results/features/synth/{MODEL}/{res}.parquet")
    cells = expected_cells(res)
    assert pf.features.shape == (sum(cells.values()), 384)
    assert np.isfinite(pf.features).all()
    assert sorted(pf.images) == sorted(cells)
    for name, n in cells.items():
        rows = pf.rows_of(name)
        assert len(rows) == n
        r, c = pf.grid_of(name)
        assert r * c == n and r == res // 14
        np.testing.assert_array_equal(pf.row[rows], np.repeat(np.arange(r), c))
        np.testing.assert_array_equal(pf.col[rows], np.tile(np.arange(c), r))
        fg = pf.fg_fraction[rows]
        assert np.isnan(fg).all() == (name == "foxtrot")  # the one image without a mask
        assert not np.isnan(fg).any() or name == "foxtrot"
    assert {pf.splits[s] for s, *_ in synthetic.TRAIN} == {"train"}
    assert {pf.splits[s] for s, *_ in synthetic.TEST} == {"test"}
    meta = pf.meta
    assert meta["dataset"] == "synth" and meta["model"] == MODEL and meta["model_name"] == MODEL
    assert (
        meta["backend"] == "torchhub"
        and meta["weights"] == "random-init"
        and meta["random_init"] is True
    )
    assert meta["res"] == res and meta["patch_size"] == 14 and meta["embed_dim"] == 384
    assert meta["storage"] == "fp32"  # feature_storage, the default (issue 27)
    assert meta["torch_version"] == torch.__version__
    assert meta["timm_version"] == __import__("timm").__version__
    cls = read_cls(workdir / f"results/features/synth/{MODEL}/{res}.cls.parquet")
    assert cls.cls.shape == (len(cells), 384) and cls.meta == meta
    table = pq.read_table(workdir / f"results/features/synth/{MODEL}/{res}.cls.parquet")
    grids = dict(
        zip(
            table.column("image").to_pylist(),
            zip(table.column("grid_rows").to_pylist(), table.column("grid_cols").to_pylist()),
        )
    )
    assert {k: list(v) for k, v in grids.items()} == meta["grids"]


def test_synthetic_run_logs_and_benchmarks(synth_run):
    workdir = synth_run["workdir"]
    for res in RESOLUTIONS:
        log = (workdir / f"logs/features/synth/{MODEL}/{res}.log").read_text()
        assert "RANDOM-INIT" in log and "wrote" in log
        assert (workdir / f"benchmarks/features/synth/{MODEL}/{res}.tsv").is_file()
    assert (workdir / "logs/datasets/synth.log").is_file() and (
        workdir / f"logs/models/{MODEL}.log"
    ).is_file()
    # nothing half-made anywhere
    assert not list(workdir.glob("results/**/.tmp-*")) and not list(
        workdir.glob("resources/**/.tmp-*")
    )


def test_no_network_touched_during_the_run(synth_run):
    log = synth_run["netlog"]
    assert not log.exists() or log.read_text() == ""


def test_second_run_does_nothing(synth_run, site_dir):
    proc = snakemake(
        synth_run["workdir"],
        synth_run["config"],
        "-n",
        *feature_targets("synth", RESOLUTIONS),
        site=site_dir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert scheduled_jobs(proc) == {}
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_new_resolution_is_killed_mid_write_then_redone(synth_run, site_dir, tmp_path):
    """Adding a resolution schedules only its feature job; a kill -9 at the worst moment
    (finished temporary file, before the rename) leaves no Parquet that looks done."""
    workdir, resolutions = synth_run["workdir"], [*RESOLUTIONS, 56]
    config = synth_config(synth_run["data"], resolutions)
    targets = feature_targets("synth", resolutions)
    dry = snakemake(workdir, config, "-n", *targets, site=site_dir)
    assert scheduled_jobs(dry) == {"extract_features": 1}, dry.stdout[-3000:]
    assert "res=56" in dry.stdout + dry.stderr

    pgid_file = tmp_path / "pgid"
    proc = snakemake(
        workdir,
        config,
        *targets,
        site=site_dir,
        env={
            "FMEVAL_TEST_KILL_AT": f"/{MODEL}/56.parquet",
            "FMEVAL_TEST_KILL_PGID": str(pgid_file),
        },
        popen=True,
    )
    pgid_file.write_text(str(proc.pid))  # start_new_session: snakemake leads its group
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    out_dir = workdir / f"results/features/synth/{MODEL}"
    assert not (out_dir / "56.parquet").exists()
    assert list(
        out_dir.glob(".tmp-56.parquet.*")
    )  # the finished-but-unrenamed file is all that is left
    assert (out_dir / "28.parquet").exists() and (out_dir / "42.parquet").exists()

    dry = snakemake(workdir, config, "-n", *targets, site=site_dir)
    assert scheduled_jobs(dry) == {"extract_features": 1}, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert "res=56" in dry.stdout + dry.stderr

    subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--unlock"],
        capture_output=True,
        env=snakemake_env(),
    )
    done = snakemake(workdir, config, *targets, site=site_dir)
    assert done.returncode == 0, done.stderr[-4000:]
    pf = read_features(out_dir / "56.parquet")
    assert pf.features.shape[0] == sum(expected_cells(56).values()) and pf.meta["res"] == 56
    assert not list(out_dir.glob(".tmp-*"))  # the rerun cleared the killed job's leftover
    again = snakemake(workdir, config, "-n", *targets, site=site_dir)
    assert scheduled_jobs(again) == {}


# --- the default config: no network at DAG time, and one clear error offline -------------


def test_default_config_dry_run_touches_no_network(tmp_path, site_dir):
    netlog = tmp_path / "net.log"
    proc = snakemake(
        tmp_path / "work",
        REPO / "config.yaml",
        "-n",
        site=site_dir,
        env={"FMEVAL_TEST_NETLOG": str(netlog)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = scheduled_jobs(proc)
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    n_models, n_res = len(default["models"]), len(default["resolutions"])
    assert jobs["download_dataset"] == 1 and jobs["fetch_model"] == n_models
    assert jobs["extract_features"] == n_models * n_res
    assert not netlog.exists() or netlog.read_text() == "", netlog.read_text()


def test_default_config_offline_fails_fast_with_one_message(tmp_path, site_dir):
    start = time.monotonic()
    proc = snakemake(
        tmp_path / "work",
        REPO / "config.yaml",
        site=site_dir,
        env={"FMEVAL_TEST_NETLOG": str(tmp_path / "net.log")},
    )
    elapsed = time.monotonic() - start
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert elapsed < 90, f"took {elapsed:.0f}s"
    url = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["dinov3-fg"]["images"][
        "source"
    ]
    assert text.count("Error in rule") == 1, text[-5000:]  # one failed job, not one per fetch
    errors = [line for line in text.splitlines() if "fmeval ERROR" in line]
    assert len(errors) == 1, text[-5000:]  # the message is shown once
    (message,) = errors
    assert url in message
    assert "`datasets.dinov3-fg.images.source`" in message and "file://" in message
    assert "Traceback" not in text
    assert not (tmp_path / "work/resources/datasets/dinov3-fg/manifest.json").exists()


def test_offline_hub_model_fails_fast_with_one_message(tmp_path, site_dir):
    """Local data, but the default models from github: fetch_model gives the one error."""
    config = synth_config(synthetic.make_dataset(tmp_path / "data"), [28])
    config["models"] = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    netlog = tmp_path / "net.log"
    start = time.monotonic()
    targets = [f"results/features/synth/{m}/28.parquet" for m in config["models"]]
    proc = snakemake(
        tmp_path / "work", config, *targets, site=site_dir, env={"FMEVAL_TEST_NETLOG": str(netlog)}
    )
    elapsed = time.monotonic() - start
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and elapsed < 120
    assert text.count("Error in rule") == 1 and "Error in rule fetch_model" in text, text[-5000:]
    (message,) = [line for line in text.splitlines() if "fmeval ERROR" in line]
    assert "https://github.com/facebookresearch/dinov2" in message
    assert re.search(r"`models\.dinov2_vit[sb]14\.repo`", message)
    assert re.search(r"`models\.dinov2_vit[sb]14\.weights`", message)
    assert netlog.read_text()  # it did try the network (and was refused)
    assert (tmp_path / "work/resources/datasets/synth/manifest.json").exists()  # data came first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"resolutions": [224, 225]},
            "resolution 225 is not a multiple of the patch size 14 of model 'dinov2_vits14'",
        ),
        (
            {
                "models": {
                    "m": {
                        "backend": "torchhub",
                        "name": "dinov2_vitq14",
                        "patch_size": 14,
                        "weights": "random",
                    }
                }
            },
            "config error: models.m.name: facebookresearch/dinov2 has no entry point "
            "'dinov2_vitq14'; closest: dinov2_vit",
        ),
    ],
)
def test_config_errors_stop_the_dag_with_one_message(tmp_path, site_dir, change, message):
    config = {**load_test_config(), **change}
    proc = snakemake(tmp_path, config, "-n", site=site_dir)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


# --- the real DAVIS frames -------------------------------------------------------------------


def sha256sums() -> dict[str, str]:
    lines = (SHARED_DATA / "SHA256SUMS").read_text().splitlines()
    return {
        name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())
    }


@pytest.fixture(scope="module")
def davis_run(full_run):
    """The test config's run on the DAVIS frames (conftest's session-wide ``full_run``)."""
    return full_run, load_test_config()


def test_test_config_checksums_are_the_shared_sha256sums():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    sums = sha256sums()
    davis = load_test_config()["datasets"]["davis"]
    for part in ("images", "labels"):
        assert davis[part]["sha256"] == sums[Path(davis[part]["source"]).name]
    for entry in davis["test_images"]:
        assert entry["sha256"] == sums[f"test/{Path(entry['image']).name}"]
        assert entry["mask_sha256"] == sums[f"test/{Path(entry['mask']).name}"]


def test_davis_features(davis_run):
    workdir, config = davis_run
    manifest = workdir / "resources/datasets/davis/manifest.json"
    from fmeval.features.datasets import read_manifest

    items = read_manifest(manifest)
    assert (
        len([i for i in items if i.split == "train"]) == 15
        and len([i for i in items if i.split == "test"]) == 2
    )
    for res in config["resolutions"]:
        path = workdir / f"results/features/davis/{MODEL}/{res}.parquet"
        pf = read_features(path)
        cells = {}
        for item in items:
            w, h = Image.open(item.image).size
            cells[item.name] = synthetic.grid_cells(w, h, res=res)
        assert pf.features.shape == (sum(cells.values()), 384)
        assert {name: len(pf.rows_of(name)) for name in pf.images} == cells
        assert not np.isnan(pf.fg_fraction).any()  # every DAVIS frame, test ones too, has a mask
        assert 0.01 < np.nanmean(pf.fg_fraction) < 0.9
        assert pf.splits["camel-00060"] == "test" and pf.splits["blackswan"] == "train"
        meta = read_meta(path)
        assert (
            meta["random_init"] is True and meta["weights"] == "random-init" and meta["res"] == res
        )
