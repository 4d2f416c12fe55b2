"""DAVIS-layout video datasets: label maps, the manifest, and its errors."""

import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic_video import write_davis

from fmeval.errors import DataError
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


def test_zip_member_escaping_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(DataError, match="escapes"):
        download_video(name="x", source=str(archive), out_dir=tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
