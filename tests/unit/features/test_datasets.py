"""Datasets: tarball extraction, pairing by stem, the manifest, and each bad-input error."""

import gzip
import io
import json
from pathlib import Path

import pytest
import synthetic
from PIL import Image

from fmeval.errors import DataError, SourceError
from fmeval.features.dataset_files import image_files, pair_by_stem
from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.io.archives import extract_tarball


def run(entry: dict, out: Path, name: str = "synth") -> Path:
    return download_dataset(name=name, out_dir=out, **entry)


@pytest.fixture
def synth(tmp_path):
    return synthetic.make_dataset(tmp_path / "src")


def test_download_pairs_and_writes_manifest(tmp_path, synth):
    manifest = run(synth, tmp_path / "resources" / "datasets" / "synth")
    assert manifest.name == "manifest.json"
    items = read_manifest(manifest)
    train = [i for i in items if i.split == "train"]
    test = [i for i in items if i.split == "test"]
    assert [i.name for i in train] == sorted(s for s, *_ in synthetic.TRAIN)
    assert [i.name for i in test] == [s for s, *_ in synthetic.TEST]
    for item in train:
        assert item.image.name == f"{item.name}.jpg" and item.mask.name == f"{item.name}.png"
        assert item.image.is_file() and item.mask.is_file() and item.mask_spec.kind == "alpha"
    echo, foxtrot = test
    assert echo.mask is not None and echo.mask.is_file() and echo.mask_spec.kind == "auto"
    assert foxtrot.mask is None
    # the folder holds nothing half-made, and the manifest is relative (the folder can move)
    assert not [p for p in manifest.parent.parent.iterdir() if p.name.startswith(".tmp")]
    assert all(
        not Path(r["image"]).is_absolute() for r in json.loads(manifest.read_text())["train"]
    )


@pytest.mark.parametrize(
    ("images", "labels", "expected"),
    [
        (["b", "a", "c"], ["c", "a", "b"], ["a", "b", "c"]),
        (["x-1", "x-10", "x-2"], ["x-2", "x-10", "x-1"], ["x-1", "x-10", "x-2"]),
    ],
)
def test_pair_by_stem_sorts(images, labels, expected):
    pairs = pair_by_stem(
        {s: Path(f"images/{s}.jpg") for s in images}, {s: Path(f"labels/{s}.png") for s in labels}
    )
    assert [stem for stem, *_ in pairs] == expected
    assert all(img.stem == lab.stem == stem for stem, img, lab in pairs)


@pytest.mark.parametrize(
    ("images", "labels", "named"),
    [
        (["a", "b", "c"], ["a", "b"], "images without a label: \\['c'\\]"),  # count mismatch
        (["a", "b"], ["a", "b", "z"], "labels without an image: \\['z'\\]"),
        (
            ["a", "b"],
            ["a", "B"],
            "images without a label: \\['b'\\]; labels without an image: \\['B'\\]",
        ),  # stems
        ([], [], "0 images, 0 labels"),
    ],
)
def test_pair_by_stem_mismatch_is_one_clear_error(images, labels, named):
    with pytest.raises(DataError, match=named):
        pair_by_stem({s: Path(f"{s}.jpg") for s in images}, {s: Path(f"{s}.png") for s in labels})


def test_image_files_ignores_hidden_and_non_images():
    files = [
        Path("images/a.jpg"),
        Path("images/._a.jpg"),
        Path("images/.DS_Store"),
        Path("images/notes.txt"),
    ]
    assert image_files(files) == {"a": Path("images/a.jpg")}
    with pytest.raises(DataError, match="two files share the stem 'a'"):
        image_files([Path("images/a.jpg"), Path("images/a.png")])


def test_label_count_mismatch_through_download(tmp_path, synth):
    extra = {
        f"images/{s}.jpg": synthetic.encode(synthetic.photo(w, h, seed=0), "JPEG")
        for s, w, h in synthetic.TRAIN
    }
    extra["images/zulu.jpg"] = extra["images/alpha.jpg"]
    tar = synthetic.write_tarball(tmp_path / "more_images.tar.gz", extra)
    entry = {**synth, "images": {"source": str(tar)}}
    out = tmp_path / "out" / "synth"
    with pytest.raises(DataError, match=r"\(5 images, 4 labels\).*\['zulu'\]"):
        run(entry, out)
    assert not out.exists() and list(out.parent.iterdir()) == []  # nothing partial


def test_label_without_alpha_is_refused(tmp_path, synth):
    labels = {
        f"labels/{s}.png": synthetic.encode(
            Image.new("RGB" if s == "charlie" else "RGBA", (w, h)), "PNG"
        )
        for s, w, h in synthetic.TRAIN
    }
    tar = synthetic.write_tarball(tmp_path / "rgb_labels.tar.gz", labels)
    with pytest.raises(
        DataError,
        match=r"label labels/charlie\.png \(in .*rgb_labels\.tar\.gz\) has no alpha channel "
        r"\(PIL mode RGB\)",
    ):
        run({**synth, "labels": {"source": str(tar)}}, tmp_path / "out" / "synth")


@pytest.mark.parametrize(
    "damage", ["truncated", "garbage", "bad-gzip-crc", "flipped-bytes", "empty"]
)
def test_corrupt_tarball_is_one_clear_error(tmp_path, synth, damage):
    good = Path(synth["images"]["source"].removeprefix("file://")).read_bytes()
    bad = {
        "truncated": good[: len(good) // 2],
        "garbage": b"this is not a tarball" * 100,
        "bad-gzip-crc": good[:-8] + b"\x00" * 8,
        "flipped-bytes": good[: len(good) // 2]
        + bytes(b ^ 0xFF for b in good[len(good) // 2 : len(good) // 2 + 16])
        + good[len(good) // 2 + 16 :],
        "empty": b"",
    }[damage]
    path = tmp_path / "images.tar.gz"
    path.write_bytes(bad)
    out = tmp_path / "out" / "synth"
    with pytest.raises(
        DataError, match=r"synth images tarball .* is not a readable tarball .*corrupt or truncated"
    ) as err:
        run({**synth, "images": {"source": str(path)}}, out)
    assert str(path) in str(err.value)  # names the source, not a temporary copy
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_extract_tarball_refuses_path_traversal(tmp_path):
    data = b"evil"
    buf = io.BytesIO()
    import tarfile

    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(gzip.compress(buf.getvalue()))
    with pytest.raises(DataError, match=r"path traversal\), '\.\./outside\.txt'; refused"):
        extract_tarball(path, tmp_path / "x", what="evil tarball")
    assert not (tmp_path / "outside.txt").exists()


def test_sha256_mismatch_through_download(tmp_path, synth):
    entry = {**synth, "labels": {**synth["labels"], "sha256": "f" * 64}}
    out = tmp_path / "out" / "synth"
    with pytest.raises(
        SourceError,
        match=r"sha256 mismatch for synth labels tarball .*`datasets\.synth\.labels\.sha256`",
    ):
        run(entry, out)
    assert not out.exists()


def test_unreachable_test_image_names_its_config_key(tmp_path, synth):
    entry = {
        **synth,
        "test_images": [{"name": "cat", "image": "http://127.0.0.1:9/test_image.jpg"}],
    }
    with pytest.raises(
        SourceError,
        match=r"http://127\.0\.0\.1:9/test_image\.jpg.*`datasets\.synth\.test_images\[0\]\.image`",
    ):
        run(entry, tmp_path / "out" / "synth")


def test_corrupt_train_image_is_refused_with_its_name(tmp_path, synth):
    images = {
        f"images/{s}.jpg": synthetic.encode(synthetic.photo(w, h, seed=0), "JPEG")
        for s, w, h in synthetic.TRAIN
    }
    images["images/bravo.jpg"] = images["images/bravo.jpg"][:100]
    tar = synthetic.write_tarball(tmp_path / "images.tar.gz", images)
    with pytest.raises(DataError, match=r"cannot read image .*bravo\.jpg"):
        run({**synth, "images": {"source": str(tar)}}, tmp_path / "out" / "synth")


def test_rerun_replaces_the_folder(tmp_path, synth):
    out = tmp_path / "out" / "synth"
    run(synth, out)
    (out / "stale.txt").write_text("from an older run")
    run(synth, out)
    assert not (out / "stale.txt").exists() and (out / "manifest.json").exists()
