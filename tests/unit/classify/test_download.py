"""A class-folder tarball or URL: fetched and extracted within the config's `downloads` bounds."""

import json
import tarfile

import pytest

from fmeval.classify.download import download_classification_dataset
from fmeval.errors import DataError, SourceError
from tests.unit.classify.test_folders import classes


def _download(source: str, tmp_path, **downloads):
    return download_classification_dataset(
        name="ab",
        source=source,
        sha256=None,
        format="folder",
        test_fraction=0.25,
        seed=0,
        out_dir=tmp_path / "resources" / "ab",
        **downloads,
    )


@pytest.fixture
def tarball(tmp_path):
    src = classes(tmp_path / "src", {"a": 4, "b": 4})
    archive = tmp_path / "ab.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="ab")
    return archive


def test_tarball_within_the_bounds_is_extracted(tarball, tmp_path):
    manifest = _download(str(tarball), tmp_path, max_archive_members=11, max_archive_bytes=10**6)
    record = json.loads(manifest.read_text())
    assert record["classes"] == ["a", "b"] and len(record["train"]) + len(record["test"]) == 8


@pytest.mark.parametrize(
    "bound, words",
    [
        ({"max_archive_members": 10}, ["more than 10 members", "downloads.max_archive_members"]),
        ({"max_archive_bytes": 100}, ["more than 100 bytes", "downloads.max_archive_bytes"]),
    ],
)
def test_tarball_over_a_bound_is_refused_with_its_config_key(tarball, tmp_path, bound, words):
    # 11 members: the top folder, two class folders and eight images of ~70 bytes each
    with pytest.raises(DataError) as info:
        _download(str(tarball), tmp_path, **bound)
    assert all(w in str(info.value) for w in words) and "ab tarball" in str(info.value)
    assert not (tmp_path / "resources" / "ab").exists()  # no partial output


def test_slow_download_stops_at_the_deadline(tmp_path, http_server):
    http_server.serve("ab.tar.gz", bytes(1000))
    http_server.trickle_s = 0.1  # one byte every 0.1 s: never stalls, never finishes
    with pytest.raises(SourceError, match=r"after the 0\.5 s deadline.*downloads\.deadline_s"):
        _download(http_server.url("trickle/ab.tar.gz"), tmp_path, deadline_s=0.5)
    assert not (tmp_path / "resources" / "ab").exists()
