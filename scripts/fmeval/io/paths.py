"""Paths stored in fetch manifests, so that a copied ``resources/`` still works.

A manifest (``resources/models/<model>.json``, ``resources/ct/ram-weights.json``)
stores each path relative to the working directory (the folder that holds
``resources/``) when the file is inside it or the config named it by a relative path,
and records where that working directory is relative to the manifest itself. Copying
``resources/`` into another checkout (README, *Air-gapped*) then resolves every path
inside the new checkout. Paths the config gave as absolute stay absolute.
"""

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from fmeval.io.atomic import atomic_path
from fmeval.io.reading import read_json

BASE_KEY = "paths_relative_to"  # the working directory, relative to the manifest's folder


def _relative_in_config(given: str | None) -> bool:
    return bool(given) and "://" not in given and not Path(given).expanduser().is_absolute()


def store_paths(
    record: Mapping, keys: Iterable[str], *, manifest: str | os.PathLike, base: str | os.PathLike,
    given: Mapping[str, str | None] | None = None,
) -> dict:  # fmt: skip
    """``record`` with the paths under ``keys`` made portable (see the module docstring).

    ``given`` holds, per key, the config value the path came from (a relative config
    path is stored relative to ``base`` even when it lies outside it, e.g. ``../shared``).
    """
    base = Path(base).resolve()
    stored = dict(record)
    for key in keys:
        if not record.get(key):
            continue
        path = Path(record[key]).resolve()
        if path.is_relative_to(base) or _relative_in_config((given or {}).get(key)):
            stored[key] = os.path.relpath(path, base)
    stored[BASE_KEY] = os.path.relpath(base, Path(manifest).resolve().parent)
    return stored


def resolve_paths(record: Mapping, keys: Iterable[str], *, manifest: str | os.PathLike) -> dict:
    """``record`` with the paths under ``keys`` absolute again.

    Manifests written before paths were portable hold paths relative to their own folder.
    """
    folder = Path(manifest).resolve().parent
    base = (folder / record[BASE_KEY]).resolve() if BASE_KEY in record else folder
    resolved = {k: v for k, v in record.items() if k != BASE_KEY}
    for key in keys:
        value = record.get(key)
        if value and not Path(value).is_absolute():
            resolved[key] = str((base / value).resolve())
    return resolved


def write_fetch_manifest(
    record: Mapping,
    keys: Iterable[str],
    *,
    manifest: str | os.PathLike,
    cache_dir: str | os.PathLike,
    given: Mapping[str, str | None],
) -> None:
    """Write a fetch rule's ``record`` to ``manifest`` as JSON, atomically, with its paths
    made portable; the working directory is the folder that holds ``cache_dir``."""
    base = Path(cache_dir).resolve().parent
    stored = store_paths(record, keys, manifest=manifest, base=base, given=given)
    with atomic_path(manifest, suffix=".json") as tmp:
        tmp.write_text(json.dumps(stored, indent=1))


def read_fetch_manifest(path: str | os.PathLike, keys: Iterable[str], *, what: str, fix: str):
    """The record of a fetch manifest, with absolute paths; unreadable: one DataError."""
    return resolve_paths(read_json(path, what=what, fix=fix), keys, manifest=path)
