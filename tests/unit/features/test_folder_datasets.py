"""Folder datasets: each mask kind, suffix pairing, the DAVIS layout, lists of files."""

import numpy as np
import pytest
import synthetic
from PIL import Image

from fmeval.errors import ConfigError, DataError
from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.features.masks import MaskSpec, read_mask

STEMS = (("a", 40, 30), ("b", 44, 30), ("c", 40, 36))


def truth(stem: str, w: int, h: int) -> np.ndarray:
    return synthetic.disc_mask(w, h, seed=len(stem) * 7 + w + h) > 0


def encode_mask(fg: np.ndarray, kind: str) -> Image.Image:
    """A mask file of each kind; the foreground must come back as ``fg``."""
    if kind == "rgba":
        return synthetic.rgba_label(np.where(fg, 255, 0).astype(np.uint8))
    if kind == "binary":  # 0/1 values: foreground is any value above 0
        return Image.fromarray(fg.astype(np.uint8), "L")
    if kind == "grey":  # 0/255
        return Image.fromarray(np.where(fg, 255, 0).astype(np.uint8), "L")
    # palette: index 2 is the object, index 1 another object (background for `value: 2`)
    index = np.where(fg, 2, 0).astype(np.uint8)
    index[0, :] = 1
    img = Image.fromarray(index, "P")
    img.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0] + [0] * (256 * 3 - 9))
    return img


def write_folder(root, kind, *, suffix="", same_folder=False):
    images = root / "images"
    masks = images if same_folder else root / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for i, (stem, w, h) in enumerate(STEMS):
        synthetic.photo(w, h, seed=i).save(images / f"{stem}.jpg")
        encode_mask(truth(stem, w, h), kind).save(masks / f"{stem}{suffix}.png")
    return images, masks


LABELS = {
    "rgba": {"kind": "alpha"},
    "binary": {"kind": "binary"},
    "grey": {"kind": "binary", "value": 255},
    "palette": {"kind": "palette", "value": 2},
}


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_folder_dataset_reads_each_mask_kind(tmp_path, kind):
    images, masks = write_folder(tmp_path / "src", kind)
    test_mask = tmp_path / "src" / "t.png"
    encode_mask(truth("t", 40, 30), kind).save(test_mask)
    synthetic.photo(40, 30, seed=9).save(tmp_path / "src" / "t.jpg")
    manifest = download_dataset(
        name="mine",
        images={"source": str(images)},
        labels={"source": str(masks), **LABELS[kind]},
        test_images=[{"image": str(tmp_path / "src" / "t.jpg"), "mask": str(test_mask)}],
        out_dir=tmp_path / "out",
    )
    items = read_manifest(manifest)
    assert [i.name for i in items] == ["a", "b", "c", "t"]
    for item in items:
        stem, w, h = next(s for s in (*STEMS, ("t", 40, 30)) if s[0] == item.name)
        got = np.asarray(read_mask(item.mask, item.mask_spec)) > 127
        np.testing.assert_array_equal(got, truth(stem, w, h))
        assert item.image.is_absolute() and item.image.parent in (images, tmp_path / "out/test")


def test_palette_any_nonzero_and_wrong_kind(tmp_path):
    path = tmp_path / "p.png"
    fg = truth("p", 40, 30)
    encode_mask(fg, "palette").save(path)
    any_nonzero = np.asarray(read_mask(path, MaskSpec("palette"))) > 0
    assert any_nonzero[0].all() and (any_nonzero[1:] == fg[1:]).all()
    Image.fromarray(np.zeros((4, 4), np.uint8), "L").save(tmp_path / "g.png")
    with pytest.raises(DataError, match=r"g\.png is not a palette PNG .*kind"):
        read_mask(tmp_path / "g.png", MaskSpec("palette"))
    with pytest.raises(ConfigError, match="unknown mask kind 'alfa'"):
        MaskSpec("alfa")


@pytest.mark.parametrize(("suffix", "same_folder"), [("_mask", True), (".mask", False)])
def test_suffix_pairing(tmp_path, suffix, same_folder):
    images, masks = write_folder(tmp_path / "src", "grey", suffix=suffix, same_folder=same_folder)
    manifest = download_dataset(
        name="mine",
        images={"source": str(images)},
        labels={"source": str(masks), "kind": "binary", "suffix": suffix},
        test_images=[],
        out_dir=tmp_path / "out",
    )
    items = read_manifest(manifest)
    assert [(i.name, i.image.name, i.mask.name) for i in items] == [
        (s, f"{s}.jpg", f"{s}{suffix}.png") for s, *_ in STEMS
    ]


def test_unpaired_files_are_one_clear_error(tmp_path):
    images, masks = write_folder(tmp_path / "src", "grey", suffix="_mask")
    (masks / "b_mask.png").unlink()
    with pytest.raises(DataError, match=r"\(3 images, 2 labels\).*without a label: \['b'\]"):
        download_dataset(
            name="mine",
            images={"source": str(images)},
            labels={"source": str(masks), "kind": "binary", "suffix": "_mask"},
            test_images=[],
            out_dir=tmp_path / "out",
        )
    assert not (tmp_path / "out").exists()


def test_davis_layout_and_tarball_of_it(tmp_path):
    root = tmp_path / "davis"
    expected = []
    for seq in ("bear", "bmx-trees"):
        for frame in ("00000", "00001"):
            jpg = root / "JPEGImages/480p" / seq / f"{frame}.jpg"
            png = root / "Annotations/480p" / seq / f"{frame}.png"
            jpg.parent.mkdir(parents=True, exist_ok=True)
            png.parent.mkdir(parents=True, exist_ok=True)
            synthetic.photo(48, 32, seed=len(expected)).save(jpg)
            encode_mask(truth(seq, 48, 32), "grey").save(png)
            expected.append(f"{seq}-{frame}")
    (root / "JPEGImages/480p/bear/._00000.jpg").write_bytes(b"junk")  # macOS litter is ignored
    images = {"source": str(root), "pattern": "JPEGImages/480p/*/*.jpg"}
    labels = {"source": str(root), "pattern": "Annotations/480p/*/*.png", "kind": "binary"}
    for source in ("folder", "tarball"):
        if source == "tarball":
            files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.*g")}
            tar = synthetic.write_tarball(tmp_path / "davis.tar.gz", files)
            images, labels = {**images, "source": str(tar)}, {**labels, "source": str(tar)}
        manifest = download_dataset(
            name="davis", images=images, labels=labels, test_images=[], out_dir=tmp_path / source
        )
        items = read_manifest(manifest)
        assert [i.name for i in items] == expected
        assert all(i.image.parent.name == i.mask.parent.name for i in items)


def test_list_of_files(tmp_path):
    images, masks = write_folder(tmp_path / "src", "rgba")
    manifest = download_dataset(
        name="mine",
        images={"files": [str(images / "a.jpg"), str(images / "c.jpg")]},
        labels={"files": [str(masks / "a.png"), str(masks / "c.png")]},
        test_images=[],
        out_dir=tmp_path / "out",
    )
    assert [i.name for i in read_manifest(manifest)] == ["a", "c"]
    with pytest.raises(ConfigError, match=r"datasets\.mine\.images needs exactly one of"):
        download_dataset(
            name="mine",
            images={"files": [], "source": str(images)},
            labels={"source": str(masks)},
            test_images=[],
            out_dir=tmp_path / "out2",
        )
