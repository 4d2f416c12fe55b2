"""Image transforms by name: each equals the reference code's on the same image."""

import sys

import numpy as np
import pytest
import torch
from conftest import OFFICIAL_DINOV2_HUB, REPO
from PIL import Image

from fmeval.errors import ConfigError
from fmeval.features.images import resize_to_grid, to_normalised_tensor
from fmeval.features.transforms import TRANSFORMS, get_transform, normalise

DINO_REFERENCE = REPO.parent / "shared" / "reference" / "dino"


def model_input(name: str, img: Image.Image, *, res: int, patch_size: int) -> torch.Tensor:
    """fmeval's (3, H, W) input of ``img`` under transform ``name``, as extraction builds it."""
    t = get_transform(name)
    grid = t.grid(*img.size, res=res, patch_size=patch_size)
    pixels = t.pixels(img, grid, res=res, patch_size=patch_size)
    return normalise(pixels, torch.empty((3, *pixels.shape[:2])), t)


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth random RGB image (a photo-like gradient with noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) * 127 / (width + height)], -1)
    noise = rng.normal(0, 20, (height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def dinov2_transforms():
    if not OFFICIAL_DINOV2_HUB.is_dir():
        pytest.skip(f"{OFFICIAL_DINOV2_HUB} is absent")
    sys.path.insert(0, str(OFFICIAL_DINOV2_HUB))
    try:
        from dinov2.data import transforms
    finally:
        sys.path.remove(str(OFFICIAL_DINOV2_HUB))
    return transforms


@pytest.mark.parametrize("size", [(854, 480), (480, 854), (300, 300)])
@pytest.mark.parametrize("res", [224, 112])
def test_classification_equals_dinov2_eval_transform(dinov2_transforms, size, res):
    """make_classification_eval_transform (resize 256 bicubic, crop 224; the same ratio at
    other sizes) gives the same tensor, bit for bit."""
    img = photo(*size)
    resize = round(res * 256 / 224)
    ref = dinov2_transforms.make_classification_eval_transform(resize_size=resize, crop_size=res)
    expected = ref(img)
    got = model_input("classification", img, res=res, patch_size=14)
    assert got.shape == expected.shape == (3, res, res)
    assert torch.equal(got, expected)


@pytest.fixture(scope="module")
def dino_video():
    pytest.importorskip("cv2")
    if not DINO_REFERENCE.is_dir():
        pytest.skip(f"{DINO_REFERENCE} is absent")
    sys.path.insert(0, str(DINO_REFERENCE))
    try:
        import eval_video_segmentation
    finally:
        sys.path.remove(str(DINO_REFERENCE))
    return eval_video_segmentation


@pytest.mark.parametrize("size", [(854, 480), (480, 854), (910, 480)])
def test_dino_video_equals_read_frame(dino_video, tmp_path, size):
    """DINO's read_frame (480 px high, width floored to x64, cv2 bilinear, its own std) on a
    lossless PNG (so both decoders read the same pixels) gives the same tensor."""
    img = photo(*size, seed=1)
    path = tmp_path / "frame.png"
    img.save(path)
    expected, ori_h, ori_w = dino_video.read_frame(str(path))
    assert (ori_w, ori_h) == size
    got = model_input("dino-video", img, res=480, patch_size=16)
    assert got.shape == expected.shape
    assert torch.equal(got, expected)


def test_dinov3_video_size():
    """The notebook's ResizeToMultiple: shorter side 960 rounded up to whole patches, the
    longer one keeping the ratio, rounded up."""
    t = TRANSFORMS["dinov3-video"]
    assert t.size(854, 480, res=960, patch_size=16) == (1712, 960)
    assert t.size(480, 854, res=960, patch_size=16) == (960, 1712)
    assert t.size(854, 480, res=960, patch_size=14) == (1722, 966)
    assert t.grid(854, 480, res=960, patch_size=16) == (60, 107)


def test_tutorial5_is_the_segmentation_resize():
    img = photo(333, 250)
    t = TRANSFORMS["tutorial5"]
    grid = t.grid(*img.size, res=56, patch_size=14)
    assert grid == (4, 5)
    expected = to_normalised_tensor(resize_to_grid(img, grid, patch_size=14))
    assert torch.equal(model_input("tutorial5", img, res=56, patch_size=14), expected)


def test_cut_to_whole_patches():
    """A size that is no multiple of the patch keeps its top-left whole patches."""
    img = photo(854, 480)
    got = model_input("dino-video", img, res=480, patch_size=14)
    assert got.shape == (3, 14 * (480 // 14), 14 * (832 // 14))


def test_unknown_transform_is_one_line():
    with pytest.raises(ConfigError, match=r"classify.transform: unknown image transform 'x'"):
        get_transform("x", key="classify.transform")
