"""Names of test images, known at DAG time (no torch import)."""

from collections.abc import Mapping
from pathlib import PurePosixPath


def unique_test_name(entry: Mapping, used: set[str]) -> str:
    """A unique name for a test image: its ``name`` or the stem of its source (added
    to ``used``).
    """
    base = entry.get("name") or PurePosixPath(str(entry["image"]).split("?")[0]).stem
    name, i = base, 2
    while name in used:
        name, i = f"{base}-{i}", i + 1
    used.add(name)
    return name
