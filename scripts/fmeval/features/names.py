"""Names of test images, known at DAG time (no torch import)."""

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath


def name_test_images(entries: Sequence[Mapping]) -> list[str]:
    """The names of a dataset's test images, as fmeval.datasets names them (``name`` or the stem).

    Known at DAG time; a name that clashes with a training stem is renamed by the download
    and then reported clearly by the rules that look it up.
    """
    used: set[str] = set()
    return [unique_test_name(entry, used) for entry in entries]


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
