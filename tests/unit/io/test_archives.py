"""Hostile tarballs: every member stays inside the extraction folder, within bounds."""

import io
import random
import tarfile
from pathlib import Path

import pytest

from fmeval.errors import DataError
from fmeval.io.archives import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    RATIO_FLOOR,
    Bounds,
    extract_tarball,
    extract_zip,
)

JPEG = b"\xff\xd8\xff\xe0 not really a jpeg, but extraction does not decode"


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode="w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
            else:
                tar.addfile(m)
    return path


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _refused(archive: Path, dest: Path, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        extract_tarball(archive, dest, what="d images tarball", bounds=Bounds(**kwargs))
    message = str(info.value)
    assert "d images tarball" in message
    assert "corrupt or truncated" not in message  # say what it is
    return message


def test_regular_archive_extracts_images_and_labels_only(tmp_path):
    archive = _tar(
        tmp_path / "a.tar.gz",
        [
            ("images/a.jpg", JPEG),
            ("labels/a.png", b"png"),
            ("README.txt", b"hi"),
            ("images/run.sh", b"#!/bin/sh"),
            ("images/._a.jpg", b"mac"),
        ],
    )
    found = extract_tarball(archive, tmp_path / "out", what="d images tarball")
    assert found == [tmp_path / "out" / "images" / "a.jpg", tmp_path / "out" / "labels" / "a.png"]
    files = sorted(
        p.relative_to(tmp_path / "out").as_posix()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    )
    assert files == ["images/a.jpg", "labels/a.png"]


def test_absolute_member_is_refused_by_name(tmp_path):
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(JPEG)  # what the old code opened instead of the member
    archive = _tar(tmp_path / "a.tar.gz", [("images/a.jpg", JPEG), (str(outside), JPEG)])
    message = _refused(archive, tmp_path / "out")
    assert "absolute" in message and str(outside) in message


@pytest.mark.parametrize("name", ["../evil.jpg", "images/../../evil.jpg"])
def test_path_traversal_is_reported_as_such(tmp_path, name):
    archive = _tar(tmp_path / "a.tar.gz", [(name, JPEG)])
    message = _refused(archive, tmp_path / "out" / "x")
    assert "path traversal" in message and name in message
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "out" / "evil.jpg").exists()


@pytest.mark.parametrize(
    "member, word",
    [
        (_special("images/link.jpg", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
        (_special("images/hard.jpg", tarfile.LNKTYPE, "images/a.jpg"), "hard link"),
        (_special("images/fifo.jpg", tarfile.FIFOTYPE), "FIFO"),
        (_special("images/dev.jpg", tarfile.CHRTYPE), "device"),
    ],
)
def test_links_and_special_files_are_refused_by_name(tmp_path, member, word):
    archive = _tar(tmp_path / "a.tar.gz", [("images/a.jpg", JPEG), member])
    message = _refused(archive, tmp_path / "out")
    assert word in message and member.name in message


def test_gzip_bomb_is_refused_before_it_fills_the_disk(tmp_path):
    limit = 1 << 20
    archive = _tar(tmp_path / "bomb.tar.gz", [("images/big.jpg", bytes(4 * limit))])
    assert archive.stat().st_size < 64 << 10  # a few kB of gzip
    message = _refused(archive, tmp_path / "out", max_bytes=limit, max_members=10)
    assert str(limit) in message and str(4 * limit) in message
    assert "downloads.max_archive_bytes" in message
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= limit


def test_bound_counts_the_total_not_one_member(tmp_path):
    limit = 1000
    archive = _tar(tmp_path / "a.tar.gz", [(f"images/{i}.jpg", bytes(400)) for i in range(3)])
    message = _refused(archive, tmp_path / "out", max_bytes=limit)
    assert "1200" in message and "1000" in message


def test_member_count_is_bounded(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [(f"junk/{i}.txt", b"") for i in range(6)])
    message = _refused(archive, tmp_path / "out", max_members=5)
    assert "more than 5 members" in message and "downloads.max_archive_members" in message


def test_default_bounds():
    assert DEFAULT_MAX_BYTES == 8 * 1024**3
    assert DEFAULT_MAX_MEMBERS == 100_000
    assert DEFAULT_MAX_RATIO == 200


def test_truncated_archive_is_still_corrupt_or_truncated(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [("images/a.jpg", bytes(100_000))])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        extract_tarball(archive, tmp_path / "out", what="d images tarball")


# --- the compression ratio, and members that are not extracted ----------------------------

BOMB = 40 * 1024**2  # 40 MiB of zeros: ~40 kB of gzip, a ratio of ~1000


@pytest.mark.parametrize("name", ["images/zeros.jpg", "junk/zeros.bin"])
def test_ratio_bomb_is_refused_from_its_header(tmp_path, name):
    """Refused before it is decompressed, whether the member would be extracted or not."""
    archive = _tar(tmp_path / "bomb.tar.gz", [("images/a.jpg", JPEG), (name, bytes(BOMB))])
    assert archive.stat().st_size * DEFAULT_MAX_RATIO < BOMB  # the default bound refuses it
    message = _refused(archive, tmp_path / "out")  # default bounds: 8 GiB would let it through
    assert f"more than 200 times its {archive.stat().st_size} compressed bytes" in message
    assert repr(name) in message and "downloads.max_archive_ratio" in message, message
    assert not (tmp_path / "out" / name).exists()
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= len(JPEG)


def test_ratio_bound_can_be_raised(tmp_path):
    archive = _tar(tmp_path / "bomb.tar.gz", [("images/zeros.jpg", bytes(BOMB))])
    found = extract_tarball(archive, tmp_path / "out", what="t", bounds=Bounds(max_ratio=1e6))
    assert [p.stat().st_size for p in found] == [BOMB]


def test_small_archives_may_expand_up_to_the_floor(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [("images/zeros.png", bytes(RATIO_FLOOR // 2))])
    assert len(extract_tarball(archive, tmp_path / "out", what="t")) == 1


def test_trailing_gzip_data_after_the_tar_is_bounded(tmp_path):
    import gzip

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo("images/a.jpg")
        info.size = len(JPEG)
        tar.addfile(info, io.BytesIO(JPEG))
    archive = tmp_path / "tail.tar.gz"
    archive.write_bytes(gzip.compress(tar_bytes.getvalue() + bytes(BOMB)))
    message = _refused(archive, tmp_path / "out")
    assert "after the last member" in message and "downloads.max_archive_ratio" in message


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_ratio_bomb_is_refused_by_member(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"JPEGImages/a.jpg": JPEG, "big/zeros.jpg": bytes(BOMB)})
    with pytest.raises(DataError) as info:
        extract_zip(archive, tmp_path / "out", what="v zip")
    assert "'big/zeros.jpg'" in str(info.value) and "downloads.max_archive_ratio" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_zip_members_of_other_kinds_are_never_decompressed(tmp_path, monkeypatch):
    import zipfile

    big = random.Random(0).randbytes(4 * 1024**2)  # does not compress: within the ratio
    archive = _zip(tmp_path / "a.zip", {"JPEGImages/a.jpg": JPEG, "junk/weights.bin": big})
    opened = []
    original = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    extract_zip(archive, tmp_path / "out", what="v zip", suffixes=(".jpg",))
    assert opened == ["JPEGImages/a.jpg"]
    assert [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()] == ["a.jpg"]


def test_large_non_image_tar_member_is_not_written_and_counts(tmp_path):
    big = random.Random(0).randbytes(4 * 1024**2)  # does not compress: within the ratio
    archive = _tar(tmp_path / "a.tar.gz", [("images/a.jpg", JPEG), ("junk/weights.bin", big)])
    found = extract_tarball(archive, tmp_path / "out", what="t")
    assert [p.name for p in found] == ["a.jpg"]
    assert not (tmp_path / "out" / "junk").exists()
    # the same member of zeros is a ratio bomb although it would not be extracted
    zeros = _tar(tmp_path / "z.tar.gz", [("images/a.jpg", JPEG), ("junk/weights.bin", bytes(BOMB))])
    assert "'junk/weights.bin'" in _refused(zeros, tmp_path / "out2")
