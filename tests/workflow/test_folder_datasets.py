"""Integration: own image and mask folders, end to end (issue 22, item 1).

Three segmentation datasets read in place from folders, as the README and the schema
describe them: binary PNG masks in a folder of their own (given as a file:// URL), RGBA
labels beside their images (suffix `_mask`), and the DAVIS layout picked by a `pattern`,
with palette masks (foreground at index 1; another object at index 2 is background). One
run up to the fitted probes (random ViT-S/14, one small resolution, one C, no CT) must
plan, pair, read every mask as drawn, and cross-validate.
"""

import numpy as np
import pandas as pd
import pytest
from conftest import load_test_config, run_snakemake, scheduled_jobs
from PIL import Image
from synthetic import photo, rgba_label

from fmeval.features.datasets import read_manifest
from fmeval.features.masks import read_mask

pytestmark = pytest.mark.integration

MODEL = "dinov2_vits14"
RES = 56
SIZE = (64, 48)  # width, height: a 4 x 5 grid of patches at 56 px
STEMS = ("a", "b", "c")
SEQUENCES = {"bear": ("00000", "00001"), "cows": ("00000",)}
PALETTE = [0, 0, 0, 200, 0, 0, 0, 200, 0] + [0] * (256 * 3 - 9)
DATASETS = ("binary", "rgba", "davis")


def block_mask(seed: int) -> np.ndarray:
    """A uint8 mask (0/255): a block wide enough that some patches are all foreground."""
    w, h = SIZE
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 :, 4 + 2 * seed % 8 : w // 2 + 2 * seed % 8] = 255
    return mask


def _palette_png(mask: np.ndarray) -> Image.Image:
    """A DAVIS 2017-like palette PNG: the block at index 1, a second object (2) in a corner."""
    img = np.where(mask > 0, 1, 0).astype(np.uint8)
    img[:4, -4:] = 2
    out = Image.fromarray(img, "P")
    out.putpalette(PALETTE)
    return out


def make_folders(root):
    """The datasets' folders; their config entries and each image's expected mask."""
    w, h = SIZE
    expected = {}
    for name in ("binary", "rgba"):
        images = root / name / "images"
        masks = images if name == "rgba" else root / name / "masks"
        images.mkdir(parents=True)
        masks.mkdir(parents=True, exist_ok=True)
        for i, stem in enumerate(STEMS):
            seed = 10 * DATASETS.index(name) + i
            photo(w, h, seed=seed).save(images / f"{stem}.jpg")
            mask = block_mask(seed)
            expected[(name, stem)] = mask > 0
            if name == "binary":
                Image.fromarray(mask, "L").save(masks / f"{stem}.png")
            else:
                rgba_label(mask).save(masks / f"{stem}_mask.png")
    davis = root / "DAVIS"
    for s, (seq, frames) in enumerate(SEQUENCES.items()):
        for f, frame in enumerate(frames):
            for sub in ("JPEGImages/480p", "Annotations/480p"):
                (davis / sub / seq).mkdir(parents=True, exist_ok=True)
            photo(w, h, seed=50 + 5 * s + f).save(davis / "JPEGImages/480p" / seq / f"{frame}.jpg")
            mask = block_mask(50 + 5 * s + f)
            _palette_png(mask).save(davis / "Annotations/480p" / seq / f"{frame}.png")
            expected[("davis", f"{seq}-{frame}")] = mask > 0  # index 1 only: not the corner
    entries = {
        "binary": {  # binary masks in a folder of their own, given as a file:// URL
            "images": {"source": str(root / "binary" / "images")},
            "labels": {"source": (root / "binary" / "masks").as_uri(), "kind": "binary"},
        },
        "rgba": {  # RGBA labels beside their images; `_mask` tells them apart
            "images": {"source": str(root / "rgba" / "images")},
            "labels": {"source": str(root / "rgba" / "images"), "suffix": "_mask"},
        },
        "davis": {  # the DAVIS layout: files picked by a pattern, paired by <sequence>/<frame>
            "images": {"source": str(davis), "pattern": "JPEGImages/480p/*/*.jpg"},
            "labels": {
                "source": str(davis),
                "pattern": "Annotations/480p/*/*.png",
                "kind": "palette",
                "value": 1,
            },
        },
    }
    return entries, expected


def targets() -> list[str]:
    return [f"results/probe/{name}/{MODEL}/{RES}/probe.npz" for name in DATASETS]


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    entries, expected = make_folders(root / "data")
    config = load_test_config()
    config["datasets"] = entries
    config["resolutions"] = [RES]
    config["probe"]["cs"] = [1.0]
    config["batch_size"] = 4
    workdir = root / "work"
    plan = scheduled_jobs(run_snakemake(workdir, config, "-n", *targets()))
    run_snakemake(workdir, config, "--show-failed-logs", *targets())  # a flag ends --configfile
    return workdir, expected, plan


def test_folders_plan_and_run(folder_run):
    """The dry run accepts folders (and a file:// URL of one); the jobs then run."""
    workdir, _, plan = folder_run
    n = len(DATASETS)
    assert plan == {
        "download_dataset": n,
        "fetch_model": 1,
        "extract_features": n,
        "cross_validate_probe": n,
        "fit_probe": n,
    }
    assert all((workdir / t).is_file() for t in targets())


@pytest.mark.parametrize("name", DATASETS)
def test_images_pair_with_their_masks_read_as_drawn(folder_run, name):
    workdir, expected, _ = folder_run
    items = read_manifest(workdir / f"resources/datasets/{name}/manifest.json")
    train = [it for it in items if it.split == "train"]
    want = sorted(stem for ds, stem in expected if ds == name)
    assert sorted(it.name for it in train) == want
    for item in train:
        assert item.image.is_file()  # read in place: the user's own file
        mask = np.asarray(read_mask(item.mask, item.mask_spec)) > 127
        np.testing.assert_array_equal(mask, expected[(name, item.name)])


def test_every_folder_dataset_is_cross_validated(folder_run):
    workdir, expected, _ = folder_run
    for name in DATASETS:
        cv = pd.read_parquet(workdir / f"results/probe/{name}/{MODEL}/{RES}/cv.parquet")
        assert sorted(cv["image"]) == sorted(stem for ds, stem in expected if ds == name)
        assert (~cv["skipped"]).any()  # the blocks give foreground and background patches
