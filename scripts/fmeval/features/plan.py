"""What an extraction will do: each image's patch grid and foreground, its batch (row group).

Planning reads only the image headers and the small masks, so it is cheap and runs before
any model is built; the pixels are decoded once, by fmeval.features.loading.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fmeval.features.datasets import Item
from fmeval.features.images import oriented_size, patch_fractions, patch_grid
from fmeval.features.masks import read_mask
from fmeval.features.models import ModelSpec
from fmeval.features.taps import Tap
from fmeval.features.transforms import Transform


@dataclass
class Prepared:
    item: Item
    size: tuple[int, int]  # original (width, height)
    grid: tuple[int, int]
    fg: np.ndarray | None


def prepare(
    items: Sequence[Item], *, res: int, patch_size: int, transform: Transform | None = None
) -> list[Prepared]:
    """Grid shape and per-patch foreground fraction of each item.

    Image sizes come from the file headers (EXIF orientation included), so each image's
    pixels are decoded once, in :func:`fmeval.features.loading.load_batch`; only the small
    masks are read here. ``transform`` (fmeval.features.transforms; None: Tutorial 5's
    resize) sets the geometry.
    """
    out = []
    for item in items:
        size = oriented_size(item.image)
        name = f"image {item.name} ({item.image})"
        if transform is None:
            grid = patch_grid(*size, res=res, patch_size=patch_size, name=name)
        else:
            grid = transform.grid(*size, res=res, patch_size=patch_size, name=name)
        fg = None
        if item.mask is not None:
            mask = read_mask(item.mask, item.mask_spec)
            if mask.size != size:
                mask = mask.resize(size, resample=Image.Resampling.NEAREST)
            if transform is not None:
                mask = transform.mask(mask, grid, res=res, patch_size=patch_size)
            fg = patch_fractions(mask, grid, patch_size=patch_size).astype(np.float32)
        out.append(Prepared(item, size, grid, fg))
    return out


def batches(prepared: Sequence[Prepared], batch_size: int) -> list[list[Prepared]]:
    """Batches of at most ``batch_size`` items that share a grid shape, in input order."""
    groups: dict[tuple[int, int], list[Prepared]] = defaultdict(list)
    for p in prepared:
        groups[p.grid].append(p)
    return [g[i : i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


@dataclass
class Plan:
    """What an extraction will write: the prepared items, their batches (= row groups)."""

    prepared: list[Prepared]
    batches: list[list[Prepared]]
    transform: Transform | None = None  # None: Tutorial 5's resize
    res: int = 0
    tap: Tap | None = None  # None: the last block without the final norm

    @property
    def grids(self) -> dict[str, list[int]]:
        return {p.item.name: list(p.grid) for p in self.prepared}

    @property
    def row_groups(self) -> dict[str, int]:
        return {p.item.name: i for i, batch in enumerate(self.batches) for p in batch}

    @property
    def n_images(self) -> int:
        return len(self.prepared)


def plan_extraction(
    items: Sequence[Item],
    *,
    spec: ModelSpec,
    res: int,
    batch_size: int,
    transform: Transform | None = None,
    tap: Tap | None = None,
) -> Plan:
    prepared = prepare(items, res=res, patch_size=spec.patch_size, transform=transform)
    return Plan(prepared, batches(prepared, batch_size), transform, res, tap)
