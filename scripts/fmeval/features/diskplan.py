"""The features' expected size per cell, printed at plan time when it is large.

A cell's patch file holds images x tokens x dim values of ``bytes_per_value`` bytes
(float32: 4). The images are counted from the dataset's manifest when it has been
downloaded (before that the count is unknown and nothing is printed: run the dry run again
after the downloads); the tokens are those of a square image of height ``res``
(``(res / patch)^2``: a wider image has more), the dim that of the model's family
(:data:`fmeval.features.catalog.BY_NAME`; an unlisted model is skipped).
"""

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from fmeval.features.catalog import BY_NAME
from fmeval.features.models import ModelSpec

LIMIT_BYTES = 10e9  # a warning above 10 GB per cell
BYTES_PER_VALUE = 4  # the feature store holds float32


def manifest_images(path: str | os.PathLike) -> int | None:
    """The number of images a dataset manifest lists (train and test), None when absent."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        return sum(len(manifest.get(part, [])) for part in ("train", "test"))
    except (OSError, ValueError, TypeError):
        return None  # a half-written or foreign file: no estimate, the rules will say more


def cell_bytes(images: int, res: int, spec: ModelSpec, bytes_per_value: int) -> int | None:
    """The patch features' expected bytes of one cell; None when the model's dim is unknown."""
    known = BY_NAME.get((spec.backend, spec.name))
    if known is None:
        return None
    tokens = (res // spec.patch_size) ** 2
    return images * tokens * known.embed_dim * bytes_per_value


def disk_warnings(
    cells: Iterable[tuple[str, int]],
    models: Mapping[str, ModelSpec],
    *,
    manifest_of,
    bytes_per_value: int = BYTES_PER_VALUE,
    limit: float = LIMIT_BYTES,
) -> list[str]:
    """One line per (dataset, model, res) cell whose features would exceed ``limit`` bytes.

    ``cells`` are (dataset, res) pairs, ``manifest_of(dataset)`` the manifest path.
    """
    lines = []
    for dataset, res in cells:
        images = manifest_images(manifest_of(dataset))
        if not images:
            continue
        for key, spec in models.items():
            size = cell_bytes(images, res, spec, bytes_per_value)
            if size is None or size <= limit:
                continue
            tokens = (res // spec.patch_size) ** 2
            dim = size // (images * tokens * bytes_per_value)
            lines.append(
                f"disk warning: features of ({dataset}, {key}, {res}) will take about "
                f"{size / 1e9:,.1f} GB ({images:,} images x {tokens:,} tokens x {dim} dims x "
                f"{bytes_per_value} bytes); to shrink them lower the resolution, store fewer "
                "bytes per value (a 16-bit feature storage, where available) or use fewer images"
            )
    return lines
