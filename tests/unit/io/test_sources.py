"""Sources: https/file/path fetch, sha256 checks, unreachable URLs, atomic writes."""

import hashlib
import socket
import time

import pytest

from fmeval.errors import SourceError
from fmeval.io.atomic import atomic_dir, atomic_path
from fmeval.io.sources import fetch, is_remote, local_path, sha256_file


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "src" / "data.bin"
    path.parent.mkdir()
    path.write_bytes(b"fmeval" * 1000)
    return path


@pytest.mark.parametrize("kind", ["path", "file-url", "relative"])
def test_fetch_local_sources(tmp_path, payload, kind, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = {"path": str(payload), "file-url": payload.as_uri(), "relative": "src/data.bin"}[kind]
    assert not is_remote(source)
    out = fetch(source, tmp_path / "out" / "copy.bin", sha256=sha256_file(payload))
    assert out.read_bytes() == payload.read_bytes()


def test_sha256_file_reads_in_chunks(tmp_path):
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 9000  # > 1 MiB
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_sha256_mismatch_is_refused_and_leaves_nothing(tmp_path, payload):
    dest = tmp_path / "out" / "copy.bin"
    wrong = "0" * 64
    with pytest.raises(
        SourceError, match=rf"sha256 mismatch .*expected {wrong}, got {sha256_file(payload)}"
    ) as err:
        fetch(
            str(payload),
            dest,
            sha256=wrong,
            what="images tarball",
            config_key="datasets.x.images.sha256",
        )
    assert "datasets.x.images.sha256" in str(err.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temporary file left either


def test_missing_local_file_names_it_and_the_key(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*`datasets\.x\.images\.source`"):
        fetch(
            str(tmp_path / "nope.tar.gz"), tmp_path / "out", config_key="datasets.x.images.source"
        )


def closed_port() -> int:
    """A localhost TCP port with nothing listening (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/x.tar.gz", "http://127.0.0.1:9/x.tar.gz"])
def test_unreachable_url_fails_fast_naming_url_and_key(tmp_path, url):
    url = url.format(port=closed_port())
    dest = tmp_path / "out" / "x.tar.gz"
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch(url, dest, what="demo images tarball", config_key="datasets.demo.images.source")
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert url in message
    assert "`datasets.demo.images.source`" in message and "file://" in message
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_unsupported_scheme_is_refused():
    with pytest.raises(SourceError, match="unsupported source 's3://bucket/x'"):
        local_path("s3://bucket/x")


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # the old file stays until the rename
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_swaps_in_whole_folders(tmp_path):
    target = tmp_path / "dataset"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "manifest.json").write_text("{}")
            raise RuntimeError("corrupt tarball")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]
    assert (target / "manifest.json").exists()


def test_leftovers_of_a_killed_write_are_cleared_by_the_next(tmp_path):
    target = tmp_path / "f.parquet"
    (tmp_path / ".tmp-f.parquet.abc12345.parquet").write_bytes(b"from a job killed mid-write")
    (tmp_path / ".tmp-g.parquet.abc12345.parquet").write_bytes(b"another output's: kept")
    with atomic_path(target, suffix=".parquet") as tmp:
        tmp.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".tmp-g.parquet.abc12345.parquet",
        "f.parquet",
    ]
