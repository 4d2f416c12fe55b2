"""Environment faults and hostile images end in one line naming the file, cause and fix;
temporaries are exact; a copied resources/ still works; leftovers are cleaned."""

import errno
import logging
import os
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from fmeval.errors import DataError
from fmeval.logs import run_logged

REPO = Path(__file__).resolve().parents[3]
HUB = REPO / "tests" / "fixtures" / "dinov2_hub"


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def _logged_error(tmp_path, exc: BaseException) -> str:
    def boom():
        raise exc

    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as info:
        run_logged(str(log), boom)
    assert info.value.code == 1
    text = log.read_text()
    assert "unexpected error" not in text and "Traceback" not in text, text
    errors = [line for line in text.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and len(text.strip().splitlines()) == 1, text
    return errors[0]


@pytest.mark.parametrize(
    "code, cause, fix",
    [
        (errno.ENOSPC, "disk full", "free space"),
        (errno.EDQUOT, "disk quota exceeded", "free space"),
        (errno.EROFS, "read-only file system", "writable"),
        (errno.EACCES, "permission denied", "writable"),
    ],
)
def test_environment_faults_are_one_line_naming_the_output(tmp_path, code, cause, fix):
    tmp = tmp_path / "results" / "features" / ".tmp-224.parquet.ab_c1234"
    line = _logged_error(tmp_path, OSError(code, os.strerror(code), str(tmp)))
    assert str(tmp_path / "results" / "features" / "224.parquet") in line
    assert ".tmp-" not in line
    assert cause in line and fix in line


@pytest.mark.parametrize("code, what", [(errno.ENOSPC, "no space left"), (errno.EDQUOT, "quota")])
def test_disk_full_names_the_folder_that_is_full(tmp_path, code, what):
    (tmp_path / "results" / "features").mkdir(parents=True)
    tmp = tmp_path / "results" / "features" / ".tmp-224.parquet.ab_c1234"
    line = _logged_error(tmp_path, OSError(code, os.strerror(code), str(tmp)))
    mount = tmp_path
    while not os.path.ismount(mount):
        mount = mount.parent
    folder = tmp_path / "results" / "features"
    assert f"the file system holding {folder}/ (mounted at {mount}) " in line, line
    assert what in line


def test_disk_full_without_errno_is_recognised(tmp_path):
    # pyarrow's way: an OSError with the errno only in its text
    line = _logged_error(
        tmp_path, OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
    )
    assert "disk full" in line


def test_a_bug_still_keeps_its_traceback(tmp_path):
    def boom():
        raise KeyError("x")

    log = tmp_path / "job.log"
    with pytest.raises(KeyError):
        run_logged(str(log), boom)
    assert "unexpected error" in log.read_text() and "Traceback" in log.read_text()


# --- hostile images -----------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, side: int = 50_000) -> Path:
    """A tiny PNG whose header declares side x side pixels."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" + bytes((side + 7) // 8)
    idat = zlib.compress(row * 4)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )
    return path


def test_decompression_bomb_is_refused_by_name(tmp_path):
    from fmeval.features.images import open_image

    path = bomb_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 10_000
    with pytest.raises(DataError) as info:
        open_image(path)
    message = str(info.value)
    assert str(path) in message and "50000x50000" in message and "decompression bomb" in message


@pytest.mark.parametrize("size", [(1, 1), (15, 200), (200, 3)])
def test_images_below_the_minimum_size_are_refused_by_name(tmp_path, size):
    from fmeval.features.images import MIN_IMAGE_SIDE, open_image

    path = tmp_path / "tiny.png"
    Image.new("RGB", size).save(path)
    with pytest.raises(DataError) as info:
        open_image(path, min_side=MIN_IMAGE_SIDE)
    message = str(info.value)
    assert (
        str(path) in message
        and f"{size[0]}x{size[1]}" in message
        and str(MIN_IMAGE_SIDE) in message
    )
    Image.new("RGB", (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)).save(path)
    open_image(path, min_side=MIN_IMAGE_SIDE)


def test_tiny_image_in_a_dataset_is_refused_by_name(tmp_path):
    import synthetic

    from fmeval.features.datasets import download_dataset

    entry = synthetic.make_dataset(tmp_path / "src", train=(("alpha", 64, 48), ("tiny", 1, 1)))
    out = tmp_path / "resources" / "datasets" / "syn"
    with pytest.raises(DataError) as info:
        download_dataset(name="syn", out_dir=out, **entry)
    message = str(info.value)  # the member in the user's archive, not the temporary folder
    assert message.startswith(f"image images/tiny.jpg (in {entry['images']['source']}) is 1x1 px")
    assert ".tmp-" not in message
    assert list(out.parent.iterdir()) == []


def test_text_file_named_png_is_refused_by_name(tmp_path):
    from fmeval.features.images import open_image

    path = tmp_path / "notes.png"
    path.write_text("just text")
    with pytest.raises(DataError, match="notes.png"):
        open_image(path)


# --- atomic temporaries -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_leftover_cleanup_never_touches_a_siblings_temporary(tmp_path, kind):
    from fmeval.io.atomic import atomic_dir, atomic_path

    mine = tmp_path / ".tmp-a.k3j_x9z0"  # a killed write of `a`
    sibling = tmp_path / ".tmp-a.b.k3j_x9z0"  # a write of `a.b`, maybe in progress
    sibling2 = tmp_path / ".tmp-a.abcdefgh.k3j_x9z0"  # a write of `a.abcdefgh`
    for p in (mine, sibling, sibling2):
        p.mkdir() if kind == "dir" else p.write_text("x")
    if kind == "dir":
        with atomic_dir(tmp_path / "a") as tmp:
            (tmp / "f").write_text("done")
    else:
        with atomic_path(tmp_path / "a") as tmp:
            tmp.write_text("done")
    assert not mine.exists()
    assert sibling.exists() and sibling2.exists()


def test_leftover_with_a_suffix_is_cleaned_exactly(tmp_path):
    from fmeval.io.atomic import atomic_path

    mine = tmp_path / ".tmp-cat.k3j_x9z0.png"
    other = tmp_path / ".tmp-cat.png.k3j_x9z0.png"  # the temporary of `cat.png`
    mine.write_text("x")
    other.write_text("x")
    with atomic_path(tmp_path / "cat", suffix=".png") as tmp:
        tmp.write_text("done")
    assert not mine.exists() and other.exists()


# --- a copied resources/ ------------------------------------------------------------------


def test_copied_checkout_with_resources_works(tmp_path, monkeypatch):
    from fmeval.features.backbones import fetch_model, load_manifest
    from fmeval.features.models import ModelSpec

    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(HUB, old / "hub")
    monkeypatch.chdir(old)
    spec = ModelSpec(
        key="m",
        backend="torchhub",
        name="dinov2_vits14",
        patch_size=14,
        weights="random",
        repo="hub",
    )
    fetch_model(spec, cache_dir="resources", manifest="resources/models/m.json")
    shutil.copytree(old, new)
    shutil.rmtree(old)
    monkeypatch.chdir(new)
    _, record = load_manifest("resources/models/m.json")
    assert Path(record["repo_dir"]) == (new / "hub").resolve()
    assert str(old) not in (new / "resources" / "models" / "m.json").read_text()


# --- leftovers of a killed download -------------------------------------------------------


def test_killed_download_leftovers_are_cleaned_on_the_next_run(tmp_path):
    import synthetic

    from fmeval.features.datasets import download_dataset

    entry = synthetic.make_dataset(tmp_path / "src")
    root = tmp_path / "resources" / "datasets"
    legacy = root / "tmpab1_cd2e"  # tempfile.TemporaryDirectory of a killed older run
    killed = root / ".tmp-syn.k3j_x9z0"
    other = root / "other"  # a dataset, not a leftover
    for d in (legacy, killed, other):
        d.mkdir(parents=True)
        (d / "images.tar").write_bytes(b"partial")
    download_dataset(name="syn", out_dir=root / "syn", **entry)
    assert sorted(p.name for p in root.iterdir()) == ["other", "syn"]
    assert not list((root / "syn").rglob("*.tar"))  # the downloads are not kept either


def test_readme_says_a_killed_snakemake_needs_unlock():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Incremental reruns", 1)[1].split("\n## ", 1)[0]
    assert "kill -9" in section and "snakemake --unlock" in section


@pytest.mark.parametrize("hostile", ["bomb", "text"])
def test_hostile_image_in_a_tarball_is_refused_by_name(tmp_path, hostile):
    import synthetic

    from fmeval.features.datasets import download_dataset

    entry = synthetic.make_dataset(tmp_path / "src")
    bad = bomb_png(tmp_path / "b.png").read_bytes() if hostile == "bomb" else b"not an image"
    files = {
        "images/alpha.jpg": synthetic.encode(synthetic.photo(64, 48, seed=0), "JPEG"),
        "images/zulu.png": bad,
    }
    images = synthetic.write_tarball(tmp_path / "src" / "hostile.tar.gz", files)
    entry["images"] = {"source": str(images)}
    entry["labels"] = {"source": str(tmp_path / "src" / "labels.tar.gz")}
    label = synthetic.encode(synthetic.rgba_label(synthetic.disc_mask(64, 48, seed=0)), "PNG")
    synthetic.write_tarball(
        tmp_path / "src" / "labels.tar.gz", {"labels/alpha.png": label, "labels/zulu.png": label}
    )
    out = tmp_path / "resources" / "datasets" / "syn"
    with pytest.raises(DataError) as info:
        download_dataset(name="syn", out_dir=out, **entry)
    assert "images/zulu.png" in str(info.value)
    if hostile == "bomb":
        assert "decompression bomb" in str(info.value)
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("hostile", ["bomb", "text"])
def test_hostile_label_in_a_tarball_is_named_in_its_archive(tmp_path, hostile):
    """Not the temporary folder it was extracted into (gone by the time the user reads it)."""
    import synthetic

    from fmeval.features.datasets import download_dataset

    entry = synthetic.make_dataset(tmp_path / "src")
    bad = bomb_png(tmp_path / "b.png").read_bytes() if hostile == "bomb" else b"not an image"
    photo = synthetic.encode(synthetic.photo(64, 48, seed=0), "JPEG")
    images = synthetic.write_tarball(
        tmp_path / "src" / "images.tar.gz", {"images/alpha.jpg": photo, "images/huge.jpg": photo}
    )
    label = synthetic.encode(synthetic.rgba_label(synthetic.disc_mask(64, 48, seed=0)), "PNG")
    labels = synthetic.write_tarball(
        tmp_path / "src" / "labels.tar.gz", {"labels/alpha.png": label, "labels/huge.png": bad}
    )
    entry["images"], entry["labels"] = {"source": str(images)}, {"source": str(labels)}
    out = tmp_path / "resources" / "datasets" / "syn"
    with pytest.raises(DataError) as info:
        download_dataset(name="syn", out_dir=out, **entry)
    message = str(info.value)
    assert f"labels/huge.png (in {labels})" in message, message
    assert ".tmp-" not in message and str(out.parent) not in message
    assert list(out.parent.iterdir()) == []


def test_image_above_the_pixel_bound_is_refused_before_decoding(tmp_path):
    from fmeval.features.images import MAX_IMAGE_PIXELS, open_image

    path = bomb_png(tmp_path / "big.png", side=10_000)  # 10^8 px: below PIL's own bomb limit
    with pytest.raises(DataError) as info, warnings.catch_warnings():
        warnings.simplefilter("error")  # one error, not PIL's warning as well
        open_image(path, max_pixels=MAX_IMAGE_PIXELS)
    message = str(info.value)
    assert f"image {path} is 10000x10000 px, more than the bound of 50000000 pixels" in message
    assert "1.2 GB" in message and "`downloads.max_image_pixels`" in message
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 48)).save(small)
    with pytest.raises(DataError, match="64x48 px, more than the bound of 1000 pixels"):
        open_image(small, max_pixels=1000)
    assert open_image(small, max_pixels=64 * 48).size == (64, 48)  # raised: accepted


def test_dataset_image_above_the_pixel_bound_is_refused_by_name(tmp_path):
    import synthetic

    from fmeval.features.datasets import download_dataset

    entry = synthetic.make_dataset(tmp_path / "src")
    out = tmp_path / "resources" / "datasets" / "syn"
    with pytest.raises(DataError) as info:
        download_dataset(name="syn", out_dir=out, max_image_pixels=1000, **entry)
    assert "more than the bound of 1000 pixels" in str(info.value)
    assert f"(in {entry['images']['source']})" in str(info.value)
    assert list(out.parent.iterdir()) == []
    download_dataset(name="syn", out_dir=out, **entry)  # the default bound lets it through
    assert (out / "manifest.json").is_file()
