"""Hub code and timm weights are fetched by fmeval: bounded in time, contained, reused."""

import io
import time
import zipfile

import pytest

from fmeval.errors import DataError, SourceError
from fmeval.features import hubcode
from fmeval.features.backbones import fetch_model
from fmeval.features.hubcode import fetch_hub_code, fetch_timm_weights, split_hub_repo
from fmeval.features.models import ModelSpec
from fmeval.io.archives import Bounds, extract_zip

REPO_NAME = "owner/code:v1"
ZIP_PATH = "owner/code/zipball/v1"  # where GitHub serves the zipball of owner/code at v1
CFG = {"hf_hub_id": "timm/vit_small_patch14_dinov2.lvd142m", "hf_hub_filename": None}
WEIGHTS_PATH = "timm/vit_small_patch14_dinov2.lvd142m/resolve/main/model.safetensors"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buffer.getvalue()


@pytest.fixture
def github(http_server, monkeypatch):
    """``hubcode.GITHUB`` pointed at the local server, under ``/<kind>``; returns a setter."""

    def serve(kind: str, body: bytes):
        http_server.serve(ZIP_PATH, body)
        monkeypatch.setattr(hubcode, "GITHUB", http_server.url(kind).rstrip("/"))

    return serve


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("facebookresearch/dinov2", ("facebookresearch", "dinov2", "HEAD")),
        ("a/b:12592a9", ("a", "b", "12592a9")),
        ("a/b:release/v1", ("a", "b", "release/v1")),
    ],
)
def test_split_hub_repo(repo, expected):
    assert split_hub_repo(repo) == expected


def test_hub_code_is_unpacked_where_torch_hub_keeps_it(tmp_path, github, http_server):
    github(
        "ok",
        _zip({"owner-code-abc/hubconf.py": b"dependencies = []\n", "owner-code-abc/m.py": b""}),
    )
    folder = fetch_hub_code(REPO_NAME, tmp_path / "hub", deadline_s=60)
    assert folder == (tmp_path / "hub" / "owner_code_v1").resolve()
    assert (folder / "hubconf.py").read_text() == "dependencies = []\n"
    assert sorted(p.name for p in (tmp_path / "hub").iterdir()) == ["owner_code_v1"]  # no temp
    requests = len(http_server.requests)
    assert fetch_hub_code(REPO_NAME, tmp_path / "hub", deadline_s=60) == folder
    assert len(http_server.requests) == requests  # reused, not downloaded again


def test_trickling_hub_code_download_hits_the_deadline(tmp_path, github, http_server):
    http_server.trickle_s = 0.1
    github("trickle", _zip({"x/hubconf.py": b"#" * 1000}))
    start = time.monotonic()
    with pytest.raises(SourceError, match="deadline") as err:
        fetch_hub_code(REPO_NAME, tmp_path / "hub", deadline_s=1.0)
    assert time.monotonic() - start < 10
    assert "/owner/code/zipball/v1" in str(err.value)
    assert list((tmp_path / "hub").iterdir()) == []  # nothing a later run would take as done


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ({"x/hubconf.py": b"", "../evil.py": b""}, "path traversal"),
        ({"x/hubconf.py": b"", "/abs/evil.py": b""}, "absolute name"),
        ({"x/m.py": b""}, "no hubconf.py"),
    ],
)
def test_hostile_or_wrong_hub_code_is_refused(tmp_path, github, members, problem):
    github("ok", _zip(members))
    with pytest.raises(DataError, match=problem):
        fetch_hub_code(REPO_NAME, tmp_path / "hub", deadline_s=60)
    assert list((tmp_path / "hub").iterdir()) == []
    assert not (tmp_path / "evil.py").exists()


def test_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"x/hubconf.py": b"\0" * 100_000}))
    with pytest.raises(DataError, match="100000 bytes, more than 1000"):
        extract_zip(archive, tmp_path / "out", what="bomb.zip", bounds=Bounds(max_bytes=1000))
    assert not (tmp_path / "out").exists()


def test_config_archive_bounds_reach_the_hub_code_zip(tmp_path, github):
    """fetch_model hands downloads.max_archive_* to the hub code's extraction."""
    github("ok", _zip({"owner-code-abc/hubconf.py": b"\0" * 100_000}))
    spec = ModelSpec.from_config(
        "m",
        {
            "backend": "torchhub",
            "name": "x",
            "repo": REPO_NAME,
            "weights": "random",
            "patch_size": 14,
        },
    )
    with pytest.raises(DataError, match="downloads.max_archive_bytes"):
        fetch_model(
            spec, cache_dir=tmp_path / "cache", manifest=tmp_path / "m.json", max_archive_bytes=1000
        )
    assert not (tmp_path / "m.json").exists()
    hub = tmp_path / "cache" / "torch" / "hub"
    assert not hub.exists() or not any(hub.iterdir())


def test_timm_weights_come_from_hf_endpoint(tmp_path, http_server, monkeypatch):
    http_server.serve(WEIGHTS_PATH, b"weights")
    monkeypatch.setenv("HF_ENDPOINT", http_server.url("ok"))
    path = fetch_timm_weights(CFG, tmp_path, deadline_s=60)
    assert path.read_bytes() == b"weights"
    assert path == tmp_path / "huggingface" / "timm--vit_small_patch14_dinov2.lvd142m" / (
        "model.safetensors"
    )


def test_trickling_timm_weights_hit_the_deadline(tmp_path, http_server, monkeypatch):
    http_server.trickle_s = 0.1
    http_server.serve(WEIGHTS_PATH, b"w" * 1000)
    monkeypatch.setenv("HF_ENDPOINT", http_server.url("trickle"))
    with pytest.raises(SourceError, match="deadline"):
        fetch_timm_weights(CFG, tmp_path, deadline_s=1.0)
    assert not list(tmp_path.rglob("*.safetensors"))
