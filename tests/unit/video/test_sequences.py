"""DAVIS-layout video datasets: label maps, the manifest, and its errors."""

import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic_video import write_davis

from fmeval.errors import DataError, SourceError
from fmeval.features.datasets import read_manifest
from fmeval.video.sequences import download_video, read_labels, read_video_manifest


@pytest.fixture
def davis(tmp_path):
    root = tmp_path / "DAVIS"
    return root, write_davis(root)


def test_palette_mask_keeps_one_id_per_object(davis):
    root, written = davis
    labels = read_labels(root / "Annotations/480p/pair/00003.png")
    assert Image.open(root / "Annotations/480p/pair/00003.png").mode == "P"
    np.testing.assert_array_equal(labels, written["pair"][1][3])
    assert set(np.unique(labels)) == {0, 1, 2}


def test_greyscale_mask_is_one_object(davis):
    root, written = davis
    labels = read_labels(root / "Annotations/480p/disc/00000.png")
    assert set(np.unique(labels)) == {0, 1}
    np.testing.assert_array_equal(labels, written["disc"][1][0])


def test_folder_is_read_in_place(davis, tmp_path):
    root, written = davis
    manifest = download_video(name="synth", source=str(root), out_dir=tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json"
    ]  # nothing copied
    seqs = read_video_manifest(manifest)
    assert list(seqs) == ["disc", "pair"]
    assert [f.name for f in seqs["pair"]][:2] == ["pair/00000", "pair/00001"]
    assert all(f.image.is_file() and f.mask.is_file() for fs in seqs.values() for f in fs)
    assert seqs["disc"][0].image.resolve() == (root / "JPEGImages/480p/disc/00000.png").resolve()
    # the shared feature extraction reads the same manifest: one item per frame
    items = read_manifest(manifest)
    assert len(items) == 16 and items[0].name == "disc/00000" and items[0].mask is not None


def test_tarball_with_a_top_folder_subset_and_frame_cap(davis, tmp_path):
    root, _ = davis
    archive = tmp_path / "davis.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="DAVIS")
    manifest = download_video(
        name="synth",
        source=str(archive),
        sequences=["pair"],
        max_frames=3,
        out_dir=tmp_path / "out",
    )
    seqs = read_video_manifest(manifest)
    assert list(seqs) == ["pair"] and len(seqs["pair"]) == 3
    assert all(f.image.is_relative_to(tmp_path / "out") for f in seqs["pair"])
    assert json.loads(manifest.read_text())["kind"] == "video"


def test_unknown_sequence_is_one_clear_error(davis, tmp_path):
    root, _ = davis
    with pytest.raises(DataError, match=r"sequences \['nope'\]"):
        download_video(name="synth", source=str(root), sequences=["nope"], out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no partial output


def test_missing_first_mask_is_one_clear_error(davis, tmp_path):
    root, _ = davis
    (root / "Annotations/480p/disc/00000.png").unlink()
    with pytest.raises(DataError, match="first frame"):
        download_video(name="synth", source=str(root), out_dir=tmp_path / "out")


def test_not_a_davis_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a DAVIS-layout"):
        download_video(name="x", source=str(tmp_path / "empty"), out_dir=tmp_path / "out")


def test_zip_archive_and_image_set(davis, tmp_path):
    root, _ = davis
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("pair\n")
    archive = tmp_path / "DAVIS.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            zf.write(path, Path("DAVIS") / path.relative_to(root))
    manifest = download_video(
        name="synth", source=str(archive), image_set="2017/val", out_dir=tmp_path / "out"
    )
    seqs = read_video_manifest(manifest)
    assert list(seqs) == ["pair"] and len(seqs["pair"]) == 8
    assert set(np.unique(read_labels(seqs["pair"][0].mask))) == {0, 1, 2}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _refused(source: Path, tmp_path: Path, **bounds) -> str:
    """The one error of download_video on ``source``; nothing is left in or beside ``out``."""
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(DataError) as info:
        download_video(name="x", source=str(source), out_dir=tmp_path / "out", **bounds)
    message = str(info.value)
    assert "video dataset x" in message and str(source) in message
    assert "\n" not in message and "corrupt or truncated" not in message
    assert not (tmp_path / "out").exists()  # no partial output
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere else either
    return message


@pytest.mark.parametrize("name", ["../evil.txt", "DAVIS/../../evil.txt"])
def test_zip_member_climbing_out_is_refused_by_name(tmp_path, name):
    archive = _zip(tmp_path / "evil.zip", {"DAVIS/JPEGImages/480p/a/00000.jpg": b"x", name: b"x"})
    message = _refused(archive, tmp_path)
    assert "path traversal" in message and name in message
    assert not (tmp_path / "evil.txt").exists()


def test_zip_member_with_an_absolute_name_is_refused(tmp_path):
    # zipfile.writestr would strip the leading "/": write the name into the entry itself
    info = zipfile.ZipInfo("x")
    info.filename = str(tmp_path / "evil.txt")
    archive = tmp_path / "abs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, b"x")
    message = _refused(archive, tmp_path)
    assert "absolute" in message and str(tmp_path / "evil.txt") in message
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    limit = 1 << 20
    archive = _zip(tmp_path / "bomb.zip", {"DAVIS/JPEGImages/480p/a/00000.jpg": bytes(4 * limit)})
    assert archive.stat().st_size < 64 << 10  # a few kB of deflate
    message = _refused(archive, tmp_path, max_archive_bytes=limit)
    assert str(4 * limit) in message and str(limit) in message
    assert "downloads.max_archive_bytes" in message


def test_zip_member_count_is_bounded(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"DAVIS/junk/{i}.txt": b"" for i in range(6)})
    message = _refused(archive, tmp_path, max_archive_members=5)
    assert "6 members, more than 5" in message and "downloads.max_archive_members" in message


def test_tarball_bounds_come_from_the_arguments(davis, tmp_path):
    root, _ = davis
    archive = tmp_path / "davis.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="DAVIS")
    message = _refused(archive, tmp_path, max_archive_members=3)
    assert "more than 3 members" in message and "downloads.max_archive_members" in message


def test_tarball_keeps_its_image_sets(davis, tmp_path):
    root, _ = davis
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("disc\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    archive = tmp_path / "davis.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="DAVIS")
    manifest = download_video(
        name="synth", source=str(archive), image_set="2017/val", out_dir=tmp_path / "out"
    )
    assert list(read_video_manifest(manifest)) == ["disc"]
    assert not list((tmp_path / "out").rglob("run.sh"))  # only frames, masks and lists


def test_slow_download_stops_at_the_deadline(tmp_path, http_server):
    http_server.serve("davis.zip", bytes(1000))
    http_server.trickle_s = 0.1  # one byte every 0.1 s: never stalls, never finishes
    with pytest.raises(SourceError, match=r"after the 0\.5 s deadline.*downloads\.deadline_s"):
        download_video(
            name="x",
            source=http_server.url("trickle/davis.zip"),
            out_dir=tmp_path / "out",
            deadline_s=0.5,
        )
    assert not (tmp_path / "out").exists()
