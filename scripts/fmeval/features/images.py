"""Image and mask loading, and the tutorial's patch-aligned resize.

Images of any PIL mode (greyscale, CMYK, palette, 16-bit) become 8-bit RGB; EXIF
orientation is applied. Masks come from a label's alpha channel.
"""

import os
import warnings

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from fmeval.errors import DataError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MIN_IMAGE_SIDE = 16  # px: smaller images have less than one patch of native detail
MAX_IMAGE_PIXELS = 50_000_000  # the default of `downloads.max_image_pixels` (e.g. 8660x5773)


def _declared_size(path: str | os.PathLike) -> str:
    """The width x height a file's header declares, read without PIL's bomb check."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as img:
            return f"{img.width}x{img.height}"
    except Exception:  # noqa: BLE001 - only for the message
        return "too many"
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _bomb(path: str | os.PathLike, exc: Exception, *, name: str | None = None) -> DataError:
    return DataError(
        f"image {name or path} declares {_declared_size(path)} pixels, above PIL's limit of "
        f"{2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels (a decompression bomb, or a corrupt "
        "header); it was not decoded. Replace or remove the file."
    )


def open_image(
    path: str | os.PathLike,
    *,
    min_side: int = 0,
    name: str | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """Open an image fully, with its EXIF orientation applied.

    A decompression bomb (a header declaring more pixels than PIL's limit), an image
    smaller than ``min_side`` on a side (datasets ask for :data:`MIN_IMAGE_SIDE`) and one
    of more than ``max_pixels`` pixels (datasets pass ``downloads.max_image_pixels``) are
    refused from the header, by ``name`` (default: the path; an archive member is named in
    its archive).
    """
    shown = name or str(path)
    if max_pixels is not None and max_pixels > (Image.MAX_IMAGE_PIXELS or max_pixels):
        Image.MAX_IMAGE_PIXELS = max_pixels  # a raised bound is not refused by PIL either
    try:
        with warnings.catch_warnings():
            if max_pixels is not None:  # refused below, in one line: not a warning as well
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise DataError(
                    f"image {shown} is {img.width}x{img.height} px, more than the bound of "
                    f"{max_pixels} pixels; it was not decoded (reading it would take about "
                    f"{img.width * img.height * 12 / 1e9:.1f} GB of memory). Downscale it, or "
                    "raise `downloads.max_image_pixels` in your config if it is wanted."
                )
            if min(img.size) < min_side:
                raise DataError(
                    f"image {shown} is {img.width}x{img.height} px, below the minimum of "
                    f"{min_side} px per side: resized to a model's resolution it would be "
                    "many copies of the same few pixels. Replace or remove the file."
                )
            ImageOps.exif_transpose(img, in_place=True)  # loads; no copy when upright
            return img
    except Image.DecompressionBombError as exc:
        raise _bomb(path, exc, name=shown) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        reason = str(exc).replace(str(path), shown)
        raise DataError(
            f"cannot read image {shown}: {reason}. Replace or remove the file."
        ) from exc


def oriented_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) after EXIF orientation, read from the header without decoding pixels."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Image.DecompressionBombError as exc:
        raise _bomb(path, exc) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"cannot read image {path}: {exc}. Replace or remove the file.") from exc
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB; 16-bit and float images are scaled, not clipped."""
    if img.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F":
            top = max(float(arr.max()), 1e-12) if arr.max() > 1 else 1.0
        arr = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    if img.mode in {"P", "PA"}:
        img = img.convert("RGBA")
    return img if img.mode == "RGB" else img.convert("RGB")


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Read an image as 8-bit RGB with EXIF orientation applied."""
    return to_rgb(open_image(path))


def alpha_of(img: Image.Image, *, name: str) -> Image.Image:
    """The alpha channel of a label as an 8-bit ``L`` image (255 = foreground)."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in {"RGBA", "LA", "PA", "La", "RGBa"}:
        return img.getchannel("A")
    raise DataError(
        f"label {name} has no alpha channel (PIL mode {img.mode}); labels must be RGBA "
        "(or LA) PNGs whose alpha channel is the foreground mask."
    )


def patch_grid(
    width: int, height: int, *, res: int, patch_size: int, name: str = "image"
) -> tuple[int, int]:
    """(rows, cols) of patches after resizing to height ``res``, as Tutorial 5 does.

    The width keeps the aspect ratio and is floored to a multiple of the patch size.
    """
    rows = res // patch_size
    cols = int((width * res) / (height * patch_size))
    if rows < 1 or cols < 1:
        raise DataError(
            f"{name} ({width}x{height} px) is smaller than one {patch_size}px patch at "
            f"resolution {res}: it resizes to {rows}x{cols} patches. Remove it or use a larger "
            "resolution."
        )
    return rows, cols


def resize_to_grid(img: Image.Image, grid: tuple[int, int], *, patch_size: int) -> Image.Image:
    """Bilinear (antialiased) resize to exactly ``grid`` patches, like ``TF.resize`` on PIL."""
    rows, cols = grid
    return img.resize((cols * patch_size, rows * patch_size), Image.Resampling.BILINEAR)


_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32).reshape(3, 1, 1)
_STD = np.array(IMAGENET_STD, dtype=np.float32).reshape(3, 1, 1)


def _channels(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(3, 1, 1)


def normalise_into(pixels: np.ndarray, out: torch.Tensor, norm=None) -> torch.Tensor:
    """(H, W, 3) 8-bit RGB ``pixels`` into the (3, H, W) float32 CPU tensor ``out``, in place,
    with the normalisation ``(x / 255 - mean) / std``: ``norm`` = (mean, std), the model's
    (fmeval.features.families.input_norm), by default ImageNet's.

    The float32 operations of ``TF.to_tensor`` then ``TF.normalize``, in the same order, so
    the same bits; in numpy, one thread: torch would split each small step over its threads.
    """
    arr = out.numpy()
    np.divide(pixels.transpose(2, 0, 1), np.float32(255.0), out=arr, dtype=np.float32)
    mean, std = (_MEAN, _STD) if norm is None else map(_channels, norm)
    np.subtract(arr, mean, out=arr)
    np.divide(arr, std, out=arr)
    return out


def to_normalised_tensor(img: Image.Image, norm=None) -> torch.Tensor:
    """An RGB PIL image as a (3, H, W) float tensor, normalised with ``norm`` (mean, std)
    (default ImageNet's)."""
    pixels = np.asarray(img)
    out = torch.empty((3, *pixels.shape[:2]), dtype=torch.float32)
    return normalise_into(pixels, out, norm)


def patch_fractions(mask: Image.Image, grid: tuple[int, int], *, patch_size: int) -> np.ndarray:
    """The foreground fraction of each patch: the resized mask average-pooled to patches.

    The same float32 sums, in the same order, as ``F.avg_pool2d`` on the CPU (row-major
    within each patch, then one division), so the same bits; vectorised over the patches.
    """
    rows, cols = grid
    arr = np.asarray(resize_to_grid(mask, grid, patch_size=patch_size), dtype=np.float32) / 255.0
    cells = arr.reshape(rows, patch_size, cols, patch_size)
    total = np.zeros(grid, dtype=np.float32)
    for i in range(patch_size):
        for j in range(patch_size):
            total += cells[:, i, :, j]
    return total / np.float32(patch_size * patch_size)
