"""Image transforms of a feature extraction, by name: part of a feature file's identity.

Each transform turns an 8-bit RGB image into the model's input pixels at a size set by the
resolution ``res`` (the ``{res}`` wildcard) and the model's patch size; the output is cut to
whole patches (its top-left part, as a patch-embedding convolution reads it). Masks go
through the same resize, for the per-patch foreground fraction.

- ``tutorial5``: height ``res``, width keeping the aspect ratio floored to whole patches,
  PIL bilinear (the segmentation probe's resize; fmeval.features.images). The default.
- ``classification``: DINOv2's ``make_classification_eval_transform`` (dinov2/data/
  transforms.py): shorter side to ``res * 256 / 224`` (256 at 224), bicubic, centre crop
  ``res`` x ``res``.
- ``dino-video``: DINO's ``eval_video_segmentation.py`` ``read_frame``: ``res`` (480) px on
  the shorter side, the longer one floored to a multiple of 64, ``cv2.resize`` (bilinear),
  normalised with DINO's ``color_normalize`` std (0.228, 0.224, 0.225).
- ``dinov3-video``: the DINOv3 segmentation-tracking notebook's ``ResizeToMultiple``: the
  shorter side to ``res`` (960) rounded up to a multiple of the patch size, the longer one
  keeping the aspect ratio rounded up likewise, torchvision's bilinear (antialiased) resize.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fmeval.errors import ConfigError

if TYPE_CHECKING:  # the names are read at plan time, without torch or PIL
    import torch
    from PIL import Image

# ImageNet's, as fmeval.features.images has them (imported lazily: that module loads torch)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

DEFAULT_TRANSFORM = "tutorial5"


@dataclass(frozen=True)
class Transform:
    """A named transform: ``resize(img, res, patch_size)`` gives the resized PIL image
    (before the cut to whole patches); ``mean``/``std`` normalise its pixels."""

    name: str
    description: str
    resize: Callable[["Image.Image", int, int], "Image.Image"]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def grid(self, width: int, height: int, *, res: int, patch_size: int, name: str = "image"):
        """(rows, cols) of whole patches of the transformed image."""
        from fmeval.features.images import patch_grid

        out_w, out_h = self.size(width, height, res=res, patch_size=patch_size)
        return patch_grid(out_w, out_h, res=out_h, patch_size=patch_size, name=name)

    def size(self, width: int, height: int, *, res: int, patch_size: int) -> tuple[int, int]:
        """(width, height) of the resized image, from the original size alone."""
        return _SIZES[self.name](width, height, res, patch_size)

    def pixels(self, img: "Image.Image", grid: tuple[int, int], *, res: int, patch_size: int):
        """The (rows * patch, cols * patch, 3) uint8 model input of an RGB image."""
        rows, cols = grid
        out = np.asarray(self.resize(img, res, patch_size))
        return out[: rows * patch_size, : cols * patch_size]

    def mask(self, mask: "Image.Image", grid: tuple[int, int], *, res: int, patch_size: int):
        """A mask (``L``) through the same resize, cut to the patch grid."""
        from PIL import Image

        return Image.fromarray(self.pixels(mask, grid, res=res, patch_size=patch_size))


# --- tutorial5 -------------------------------------------------------------------------


def _tutorial5_size(width, height, res, patch_size):
    from fmeval.features.images import patch_grid

    rows, cols = patch_grid(width, height, res=res, patch_size=patch_size)
    return cols * patch_size, rows * patch_size


def _tutorial5(img, res, patch_size):
    from fmeval.features.images import resize_to_grid

    w, h = _tutorial5_size(*img.size, res, patch_size)
    return resize_to_grid(img, (h // patch_size, w // patch_size), patch_size=patch_size)


# --- classification (DINOv2 make_classification_eval_transform) ----------------------


def classification_resize_size(res: int) -> int:
    """The shorter side before the centre crop: 256 at 224, the same ratio elsewhere."""
    return int(round(res * 256 / 224))


def _classification_size(width, height, res, patch_size):
    return res, res


def _classification(img, res, patch_size):
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    img = TF.resize(img, classification_resize_size(res), InterpolationMode.BICUBIC)
    return TF.center_crop(img, [res, res])


# --- DINO video (eval_video_segmentation.py read_frame) ------------------------------


def _dino_video_size(width, height, res, patch_size):
    if height > width:
        return res, int(((res * height) / width) // 64 * 64)
    return int(((res * width) / height) // 64 * 64), res


def _dino_video(img, res, patch_size):
    import cv2
    from PIL import Image

    w, h = _dino_video_size(*img.size, res, patch_size)
    # read_frame resizes the BGR frame cv2 decoded: each channel on its own, so RGB alike
    return Image.fromarray(cv2.resize(np.asarray(img), (w, h)))


# --- DINOv3 video (segmentation-tracking notebook, ResizeToMultiple) ---------------


def _round_up(side: float, multiple: int) -> int:
    return math.ceil(side / multiple) * multiple


def _dinov3_video_size(width, height, res, patch_size):
    if width > height:
        new_h = _round_up(res, patch_size)
        return _round_up(width * new_h / height, patch_size), new_h
    new_w = _round_up(res, patch_size)
    return new_w, _round_up(height * new_w / width, patch_size)


def _dinov3_video(img, res, patch_size):
    import torchvision.transforms.functional as TF

    w, h = _dinov3_video_size(*img.size, res, patch_size)
    return TF.resize(img, [h, w])


_SIZES = {
    "tutorial5": _tutorial5_size,
    "classification": _classification_size,
    "dino-video": _dino_video_size,
    "dinov3-video": _dinov3_video_size,
}

TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("tutorial5", "height res, width floored to whole patches, bilinear", _tutorial5),
        Transform(
            "classification",
            "DINOv2 make_classification_eval_transform: res*256/224 bicubic, centre crop res",
            _classification,
        ),
        Transform(
            "dino-video",
            "DINO read_frame: shorter side res, longer floored to x64, cv2 bilinear",
            _dino_video,
            std=(0.228, 0.224, 0.225),
        ),
        Transform(
            "dinov3-video",
            "DINOv3 ResizeToMultiple: shorter side res rounded up to whole patches, bilinear",
            _dinov3_video,
        ),
    )
}


def get_transform(name: str, *, key: str = "transform") -> Transform:
    """The transform called ``name``; an unknown name is a one-line config error."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        raise ConfigError(
            f"{key}: unknown image transform {name!r}; use one of {', '.join(TRANSFORMS)}"
        ) from None


def normalise(pixels: np.ndarray, out: "torch.Tensor", transform: Transform) -> "torch.Tensor":
    """(H, W, 3) uint8 ``pixels`` into the (3, H, W) float32 ``out``: ``(x / 255 - mean) / std``
    with the transform's constants (fmeval.features.images.normalise_into for ImageNet's)."""
    from fmeval.features.images import normalise_into

    if (transform.mean, transform.std) == (IMAGENET_MEAN, IMAGENET_STD):
        return normalise_into(pixels, out)
    arr = out.numpy()
    np.divide(pixels.transpose(2, 0, 1), np.float32(255.0), out=arr, dtype=np.float32)
    np.subtract(arr, np.array(transform.mean, dtype=np.float32).reshape(3, 1, 1), out=arr)
    np.divide(arr, np.array(transform.std, dtype=np.float32).reshape(3, 1, 1), out=arr)
    return out
