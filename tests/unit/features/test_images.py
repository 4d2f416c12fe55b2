"""Images: the tutorial's resize and patch grid, the patch quantiser, image modes and EXIF."""

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from fmeval.errors import DataError
from fmeval.features.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_rgb,
    oriented_size,
    patch_fractions,
    patch_grid,
    resize_to_grid,
    to_normalised_tensor,
)
from fmeval.features.masks import MaskSpec, read_mask


def tutorial_resize(img: Image.Image, *, image_size: int, patch_size: int) -> torch.Tensor:
    """``resize_transform`` of the DINOv3 foreground-segmentation notebook, verbatim."""
    w, h = img.size
    h_patches = int(image_size / patch_size)
    w_patches = int((w * image_size) / (h * patch_size))
    return TF.to_tensor(TF.resize(img, (h_patches * patch_size, w_patches * patch_size)))


@pytest.mark.parametrize(
    ("width", "height", "res", "patch", "expected"),
    [
        (854, 480, 448, 14, (32, 56)),  # DAVIS frame: 854*448/(480*14) = 56.93 -> 56
        (854, 480, 224, 14, (16, 28)),
        (480, 854, 448, 14, (32, 17)),  # portrait: 17.98 -> 17 (floored, not rounded)
        (640, 480, 768, 16, (48, 64)),
        (100, 100, 28, 14, (2, 2)),
        (15, 100, 98, 14, (7, 1)),
    ],
)
def test_patch_grid_matches_tutorial_formula(width, height, res, patch, expected):
    rows, cols = patch_grid(width, height, res=res, patch_size=patch)
    assert (rows, cols) == expected
    assert rows == res // patch and cols == int(width * res / (height * patch))


@pytest.mark.parametrize("res", [224, 448])
@pytest.mark.parametrize("size", [(854, 480), (333, 517), (64, 48)])
def test_resize_is_the_tutorial_resize(size, res):
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    grid = patch_grid(*img.size, res=res, patch_size=14)
    ours = resize_to_grid(img, grid, patch_size=14)
    assert ours.size == (grid[1] * 14, grid[0] * 14)
    theirs = tutorial_resize(img, image_size=res, patch_size=14)
    assert theirs.shape == (3, grid[0] * 14, grid[1] * 14)
    np.testing.assert_array_equal(TF.to_tensor(ours).numpy(), theirs.numpy())
    normalised = TF.normalize(theirs, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    torch.testing.assert_close(to_normalised_tensor(ours), normalised)


def conv_quantiser(mask: Image.Image, *, res: int, patch_size: int) -> np.ndarray:
    """The notebook's ``patch_quant_filter``: a stride-p conv with weights 1/p^2."""
    quant = torch.nn.Conv2d(1, 1, patch_size, stride=patch_size, bias=False)
    quant.weight.data.fill_(1.0 / (patch_size * patch_size))
    with torch.no_grad():
        return (
            quant(tutorial_resize(mask, image_size=res, patch_size=patch_size)).squeeze(0).numpy()
        )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("res", [28, 224])
def test_patch_fractions_match_conv_reference(seed, res):
    rng = np.random.default_rng(seed)
    h = int(rng.integers(40, 200))
    w = int(rng.integers(h, 2 * h))  # at least one patch wide at every res
    mask = Image.fromarray((rng.random((h, w)) > rng.random()).astype(np.uint8) * 255, "L")
    grid = patch_grid(w, h, res=res, patch_size=14)
    fg = patch_fractions(mask, grid, patch_size=14)
    assert fg.shape == grid
    assert fg.min() >= 0 and fg.max() <= 1
    np.testing.assert_allclose(
        fg, conv_quantiser(mask, res=res, patch_size=14), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("seed", range(6))
def test_patch_fractions_have_the_bits_of_avg_pool2d(seed):
    """The vectorised pooling sums in avg_pool2d's order: the same float32 bits."""
    rng = np.random.default_rng(seed)
    h = int(rng.integers(30, 300))
    w = int(rng.integers(h, 2 * h))  # at least one patch wide at every res
    mask = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")  # soft alpha
    grid = patch_grid(w, h, res=int(rng.choice([28, 98, 224])), patch_size=14)
    resized = np.asarray(resize_to_grid(mask, grid, patch_size=14), dtype=np.float32) / 255.0
    pooled = torch.nn.functional.avg_pool2d(torch.from_numpy(resized)[None, None], 14)
    fg = patch_fractions(mask, grid, patch_size=14)
    assert fg.dtype == np.float32 and fg.shape == grid
    assert fg.tobytes() == pooled.reshape(grid).numpy().tobytes()


def test_patch_fractions_of_constant_masks():
    for value, expected in ((0, 0.0), (255, 1.0)):
        mask = Image.new("L", (90, 60), value)
        np.testing.assert_allclose(patch_fractions(mask, (4, 6), patch_size=14), expected)


def test_image_smaller_than_one_patch_is_refused_with_its_name():
    with pytest.raises(DataError, match=r"sliver\.png.*smaller than one 14px patch.*resolution 28"):
        patch_grid(5, 100, res=28, patch_size=14, name="sliver.png")


# --- image modes and EXIF -------------------------------------------------------------

GRADIENT = np.tile(np.linspace(0, 1, 40), (30, 1))  # 30 rows x 40 cols, 0 -> 1 left to right


def make_mode(mode: str) -> Image.Image:
    if mode == "L":
        return Image.fromarray((GRADIENT * 255).round().astype(np.uint8), "L")
    if mode == "I;16":
        return Image.fromarray((GRADIENT * 65535).round().astype(np.uint16))  # mode I;16
    if mode == "I":
        return Image.fromarray((GRADIENT * 65535).round().astype(np.int32))  # mode I
    if mode == "F":
        return Image.fromarray(GRADIENT.astype(np.float32))  # mode F
    if mode == "1":
        return Image.fromarray(GRADIENT > 0.5)
    rgb = Image.fromarray(np.stack([(GRADIENT * 255).round().astype(np.uint8)] * 3, -1), "RGB")
    if mode == "P":
        return rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return rgb.convert(mode)  # RGB, RGBA, CMYK, LA, YCbCr


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "PNG"),
        ("I;16", "PNG"),  # 16-bit greyscale PNG
        ("I", "TIFF"),
        ("F", "TIFF"),
        ("1", "PNG"),
        ("P", "PNG"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("YCbCr", "JPEG"),
    ],
)
def test_any_mode_becomes_8bit_rgb_with_its_content(tmp_path, mode, fmt):
    path = tmp_path / f"img.{fmt.lower()}"
    make_mode(mode).save(path, format=fmt)
    with Image.open(path) as raw:
        raw_mode = raw.mode
    assert raw_mode == mode or (mode, raw_mode) in {("I", "I;16"), ("YCbCr", "RGB")}
    img = load_rgb(path)
    assert img.mode == "RGB" and img.size == (40, 30)
    arr = np.asarray(img, dtype=np.float64)
    assert arr.dtype == np.float64 and arr.shape == (30, 40, 3)
    # the left-to-right gradient survives: 16-bit data is scaled, not clipped to white
    expected = GRADIENT * 255 if mode != "1" else (GRADIENT > 0.5) * 255
    tol = 12 if fmt == "JPEG" else 6
    assert np.abs(arr.mean(-1) - expected).mean() < tol, raw_mode
    assert arr[:, :3].mean() < 40 and arr[:, -3:].mean() > 215


@pytest.mark.parametrize(
    ("orientation", "size"),
    [(1, (60, 40)), (3, (60, 40)), (6, (40, 60)), (8, (40, 60)), (5, (40, 60)), (2, (60, 40))],
)
def test_exif_orientation_is_applied(tmp_path, orientation, size):
    # A 60x40 picture, red on the left third; rotated by the EXIF tag on load.
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=95)
    img = load_rgb(path)
    assert img.size == size
    assert oriented_size(path) == size  # the header read agrees with the decode
    red = np.asarray(img)[..., 0] > 128
    if orientation == 6:  # rotate 90 clockwise for display: the left third becomes the top
        assert red[:18].mean() > 0.95 and red[24:].mean() < 0.05
    if orientation == 8:  # 90 counter-clockwise: the left third becomes the bottom
        assert red[-18:].mean() > 0.95 and red[:-24].mean() < 0.05
    if orientation == 3:  # 180: the red third is on the right
        assert red[:, -18:].mean() > 0.95 and red[:, :-24].mean() < 0.05
    if orientation == 1:
        assert red[:, :18].mean() > 0.95


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_mask_is_the_alpha_channel(tmp_path, mode):
    alpha = np.zeros((30, 40), np.uint8)
    alpha[:, 20:] = 255
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 3] = alpha
    img = Image.fromarray(rgba, "RGBA")
    img = img if mode == "RGBA" else img.convert(mode)
    path = tmp_path / "label.png"
    img.save(path)
    np.testing.assert_array_equal(np.asarray(read_mask(path, MaskSpec("alpha"))), alpha)


def test_palette_label_with_transparency_is_an_alpha_mask(tmp_path):
    img = Image.new("P", (20, 10), 0)
    img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    img.paste(1, (10, 0, 20, 10))
    path = tmp_path / "label.png"
    img.save(path, transparency=0)
    mask = np.asarray(read_mask(path, MaskSpec("alpha")))
    assert mask[:, :10].max() == 0 and mask[:, 10:].min() == 255


@pytest.mark.parametrize("mode", ["RGB", "L", "P"])
def test_label_without_alpha_is_refused_with_its_name(tmp_path, mode):
    path = tmp_path / "cow.png"
    Image.new(mode, (20, 10)).save(path)
    with pytest.raises(DataError, match=r"label cow\.png has no alpha channel"):
        read_mask(path, MaskSpec("alpha"))


def test_test_masks_may_be_greyscale(tmp_path):
    path = tmp_path / "mask.png"
    Image.fromarray(np.array([[0, 255]], np.uint8), "L").save(path)
    np.testing.assert_array_equal(np.asarray(read_mask(path, MaskSpec("binary"))), [[0, 255]])


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_image_is_a_data_error(tmp_path, content):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(DataError, match="cannot read image .*broken.jpg"):
        load_rgb(path)
    with pytest.raises(DataError, match="broken.jpg"):
        oriented_size(path)
