"""Foreground masks of every kind a dataset may ship, read by one function.

``kind`` says how a mask file holds the foreground:

- ``alpha``: an RGBA/LA label whose alpha channel is the mask (the DINOv3 tutorial's labels);
  soft alpha values are kept (0-255), so patch fractions stay fractional.
- ``binary``: a binary or greyscale image; foreground where the grey value is above 0, or
  equal to ``value`` when set.
- ``palette``: a palette (``P``) PNG such as DAVIS 2017's; foreground where the palette index
  equals ``value``, or any non-zero index when ``value`` is None.
- ``auto``: ``alpha`` when the file has an alpha channel, ``palette`` for a palette PNG, else
  ``binary``. Test masks of an ``alpha`` dataset are read this way (as before).

Every kind returns an 8-bit ``L`` image, 255 = foreground.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fmeval.errors import ConfigError, DataError
from fmeval.features.images import alpha_of, open_image, to_rgb

MASK_KINDS = ("alpha", "binary", "palette", "auto")
ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}


@dataclass(frozen=True)
class MaskSpec:
    """How a dataset's mask files hold the foreground (see the module docstring)."""

    kind: str = "alpha"
    value: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in MASK_KINDS:
            raise ConfigError(
                f"unknown mask kind {self.kind!r}; use one of {list(MASK_KINDS)} "
                "(datasets.<name>.labels.kind)"
            )
        if self.value is not None and not (0 <= int(self.value) <= 255):
            raise ConfigError(
                f"mask value {self.value} is not a pixel value or palette index in 0..255 "
                "(datasets.<name>.labels.value)"
            )

    def for_test_masks(self) -> "MaskSpec":
        """Test masks of an ``alpha`` dataset may also be plain greyscale: read them ``auto``."""
        return MaskSpec("auto", self.value) if self.kind == "alpha" else self


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)


def _from_bool(fg: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(fg, 255, 0).astype(np.uint8), "L")


def mask_from_image(img: Image.Image, spec: MaskSpec, *, name: str) -> Image.Image:
    """The foreground of an opened mask image as an ``L`` image (255 = foreground)."""
    kind = spec.kind
    if kind == "auto":
        kind = "alpha" if _has_alpha(img) else "palette" if img.mode == "P" else "binary"
    if kind == "alpha":
        return alpha_of(img, name=name)
    if kind == "palette":
        if img.mode != "P":
            raise DataError(
                f"mask {name} is not a palette PNG (PIL mode {img.mode}); set "
                "datasets.<name>.labels.kind to `binary` (greyscale masks) or `alpha` (RGBA)"
            )
        index = np.asarray(img)
        return _from_bool(index == spec.value if spec.value is not None else index != 0)
    grey = np.asarray(to_rgb(img).convert("L"))
    return _from_bool(grey == spec.value if spec.value is not None else grey > 0)


def read_mask(
    path: str | os.PathLike,
    spec: MaskSpec,
    *,
    name: str | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """Read one mask file as an ``L`` image, 255 = foreground (EXIF orientation applied);
    errors name it ``name`` (a member in its archive), never a temporary path."""
    img = open_image(path, name=name, max_pixels=max_pixels)
    return mask_from_image(img, spec, name=name or Path(path).name)
