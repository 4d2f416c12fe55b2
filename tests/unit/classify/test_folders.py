import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmeval.classify.download import download_classification_dataset, read_labels
from fmeval.classify.folders import scan_folder
from fmeval.errors import DataError

DAVIS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "davis2016-video"


def image(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)
    return path


def classes(root: Path, counts: dict[str, int], start: int = 0) -> Path:
    value = start
    for label, n in counts.items():
        for i in range(n):
            image(root / label / f"{i:05d}.png", value)
            value += 1
    return root


def scan(root, **kw):
    return scan_folder(root, test_fraction=kw.pop("test_fraction", 0.25), seed=0, what="ds", **kw)


def test_train_and_val_folders(tmp_path):
    classes(tmp_path / "wrap" / "train", {"cat": 3, "dog": 2})
    classes(tmp_path / "wrap" / "val", {"cat": 1, "dog": 1}, start=100)
    items = scan(tmp_path)  # the single wrapper folder is looked through
    assert [(i.split, i.label) for i in items].count(("train", "cat")) == 3
    assert {i.name for i in items if i.split == "test"} == {"test/cat/00000", "test/dog/00000"}


def test_one_folder_is_split_per_class_and_seeded(tmp_path):
    classes(tmp_path, {"a": 8, "b": 8, "c": 4})
    items = scan(tmp_path)
    held = [i for i in items if i.split == "test"]
    assert sorted(i.label for i in held) == ["a", "a", "b", "b", "c"]
    assert [i.name for i in scan(tmp_path)] == [i.name for i in items]  # same seed, same split
    other = scan_folder(tmp_path, test_fraction=0.25, seed=1, what="ds")
    assert {i.image for i in other if i.split == "test"} != {i.image for i in held}


def test_class_folder_without_images(tmp_path):
    classes(tmp_path, {"a": 3, "b": 3})
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"class folder .*empty has no images"):
        scan(tmp_path)


def test_single_class(tmp_path):
    classes(tmp_path / "train", {"a": 3})
    classes(tmp_path / "val", {"a": 1}, start=50)
    with pytest.raises(DataError, match=r"1 class folder\(s\) \['a'\].*at least 2"):
        scan(tmp_path)


def test_image_in_two_classes(tmp_path):
    classes(tmp_path, {"a": 3, "b": 3})
    image(tmp_path / "b" / "copy.png", 1)  # the bytes of a/00001.png
    with pytest.raises(DataError, match=r"same image is in two classes, 'a' .* and 'b'"):
        scan(tmp_path)


def test_evaluation_class_unknown_to_train(tmp_path):
    classes(tmp_path / "train", {"a": 2, "b": 2})
    classes(tmp_path / "test", {"a": 1, "c": 1}, start=50)
    with pytest.raises(DataError, match=r"\['c'\] are in test/ but not in train/"):
        scan(tmp_path)


def test_val_and_test_together_is_ambiguous(tmp_path):
    for split, start in (("train", 0), ("val", 50), ("test", 80)):
        classes(tmp_path / split, {"a": 2, "b": 2}, start=start)
    with pytest.raises(DataError, match="exactly one of val/ or test/"):
        scan(tmp_path)


def test_folder_manifest_points_at_the_images_in_place(tmp_path):
    src = classes(tmp_path / "src", {"a": 4, "b": 4})
    manifest = download_classification_dataset(
        name="ab",
        source=str(src),
        sha256=None,
        format="folder",
        test_fraction=0.25,
        seed=0,
        out_dir=tmp_path / "resources" / "ab",
    )
    record = json.loads(manifest.read_text())
    assert record["classes"] == ["a", "b"] and len(record["test"]) == 2
    labels, _, images = read_labels(manifest)
    assert all(p.resolve().parent.parent == src.resolve() for p in images.values())
    assert not (tmp_path / "resources" / "ab" / "images").exists()  # read in place, not copied


@pytest.mark.skipif(not DAVIS.is_dir(), reason="../shared/data/davis2016-video is absent")
def test_davis_frames_make_a_four_class_dataset():
    items = scan(DAVIS / "JPEGImages" / "480p", check_duplicates=False)
    counts = {(s, c): 0 for s in ("train", "test") for c in {i.label for i in items}}
    for i in items:
        counts[(i.split, i.label)] += 1
    assert len(items) == 200
    assert counts[("test", "dog")] == 15 and counts[("train", "car-shadow")] == 30
