"""Classification datasets: fetch a class-folder tarball or the CIFAR-10 archive, write a manifest.

The manifest has the format :func:`fmeval.features.datasets.read_manifest` reads, so
``extract_features`` embeds the images like any other dataset: ``train`` and ``test``
lists of ``{name, image, mask: null, label}`` (the evaluation split, ``val/`` or
``test/``, is ``test``), plus ``classes``. A local folder is read in place (the manifest
points at it, relative to the manifest), never copied.
"""

import json
import logging
import os
from collections import Counter
from pathlib import Path

from fmeval.classify.cifar import decode_cifar
from fmeval.classify.folders import TEST, TRAIN, Labelled, scan_folder
from fmeval.errors import ConfigError
from fmeval.features.datasets import MANIFEST
from fmeval.io.archives import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    Bounds,
    extract_tarball,
)
from fmeval.io.atomic import atomic_dir
from fmeval.io.sources import DEADLINE_S, fetched, is_remote, local_path

log = logging.getLogger(__name__)


def manifest_record(item: Labelled, base: Path) -> dict:
    """One manifest entry; the image path is relative to the manifest's folder."""
    image = os.path.relpath(os.path.abspath(item.image), os.path.abspath(base))
    return {"name": item.name, "image": image, "mask": None, "label": item.label}


def write_manifest(items: list[Labelled], *, name: str, folder: Path, base: Path) -> Path:
    """Write ``folder/manifest.json`` with image paths relative to ``base`` (the final folder)."""
    classes = sorted({i.label for i in items if i.split == TRAIN})
    manifest = {
        "dataset": name,
        "task": "classification",
        "classes": classes,
        "train": [manifest_record(i, base) for i in items if i.split == TRAIN],
        "test": [manifest_record(i, base) for i in items if i.split == TEST],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    counts = {s: Counter(i.label for i in items if i.split == s) for s in (TRAIN, TEST)}
    log.info("%s: %d classes, images per class %s", name, len(classes), counts)
    return folder / MANIFEST


def download_classification_dataset(
    *,
    name: str,
    source: str,
    sha256: str | None,
    format: str,
    test_fraction: float,
    seed: int,
    out_dir: str | os.PathLike,
    deadline_s: float = DEADLINE_S,
    max_archive_bytes: int = DEFAULT_MAX_BYTES,
    max_archive_members: int = DEFAULT_MAX_MEMBERS,
    max_archive_ratio: float = DEFAULT_MAX_RATIO,
) -> Path:
    """Fetch (or point at) a classification dataset, check it, and write its manifest.

    The download and a class-folder tarball's extraction are bounded by the config's
    ``downloads`` section (the CIFAR-10 archive is read, not extracted, within its own bounds).
    """
    out_dir = Path(out_dir)
    key = f"classify.datasets.{name}"
    what = f"classification dataset {name} ({source})"
    with atomic_dir(out_dir) as tmp:
        in_place = not is_remote(source) and local_path(source).is_dir()
        if in_place:
            if format != "folder":
                raise ConfigError(f"{key}.source is a folder; a {format} source is an archive")
            root = local_path(source)
        else:
            with fetched(
                source,
                tmp,
                name="archive",
                sha256=sha256,
                what=f"{name} archive",
                config_key=f"{key}.source",
                deadline_s=deadline_s,
            ) as archive:
                if format == "cifar10":
                    root = decode_cifar(archive, tmp / "images")
                else:
                    root = tmp / "images"
                    extract_tarball(
                        archive,
                        root,
                        what=f"{name} tarball {source}",
                        bounds=Bounds(max_archive_bytes, max_archive_members, max_archive_ratio),
                    )
        items = scan_folder(
            root,
            test_fraction=test_fraction,
            seed=seed,
            what=what,
            check_duplicates=format == "folder",
        )
        # images inside tmp move with it: their paths are relative to the final folder
        for i, item in enumerate(items):
            if not in_place:
                items[i] = Labelled(
                    item.name, item.split, item.label, out_dir / item.image.relative_to(tmp)
                )
        write_manifest(items, name=name, folder=tmp, base=out_dir)
    return out_dir / MANIFEST


def read_labels(manifest: str | os.PathLike) -> tuple[dict[str, str], list[str], dict[str, Path]]:
    """(label of each image name, the classes, image path of each name) of a manifest."""
    path = Path(manifest)
    record = json.loads(path.read_text())
    if record.get("task") != "classification":
        raise ConfigError(
            f"{path} is not a classification dataset manifest (no class labels); "
            "list the dataset under classify.datasets, not datasets"
        )
    labels, images = {}, {}
    for split in (TRAIN, TEST):
        for rec in record[split]:
            labels[rec["name"]] = rec["label"]
            images[rec["name"]] = path.parent / rec["image"]
    return labels, list(record["classes"]), images
