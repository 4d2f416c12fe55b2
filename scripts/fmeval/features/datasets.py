"""Segmentation datasets: images and masks from folders, tarballs or lists of files, paired.

A dataset's ``images`` and ``labels`` (its masks) each come from a ``source`` (a local
folder, or a tarball by path or URL) or a list of ``files``; an optional glob ``pattern``
picks files under the folder or tarball (e.g. DAVIS ``JPEGImages/480p/*/*.jpg``). Images and
masks pair by key: the file stem, or with a ``pattern`` the path below the pattern's fixed
prefix without its extension (``bear/00000``, named ``bear-00000``); a mask's key drops the
labels' ``suffix`` (``a_mask.png`` pairs with ``a.jpg`` for ``suffix: _mask``). Masks are
read by :mod:`fmeval.features.masks` (kinds ``alpha``, ``binary``, ``palette``), test masks
by the same reader. The files of each part are found by :mod:`fmeval.features.dataset_files`.

The output folder holds the extracted tarballs, ``test/`` and ``manifest.json``, written
last, so a partial folder is never taken as done; files of a local folder are referenced
in place (absolute paths), not copied.
"""

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fmeval.errors import DataError
from fmeval.features.dataset_files import Limits, collect, pair_by_stem, split_suffix
from fmeval.features.images import MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE, open_image
from fmeval.features.masks import MaskSpec, read_mask
from fmeval.features.names import unique_test_name
from fmeval.io.archives import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_RATIO
from fmeval.io.atomic import atomic_dir
from fmeval.io.sources import DEADLINE_S, fetch

MANIFEST = "manifest.json"
_OLD_DOWNLOAD = re.compile("tmp[a-z0-9_]{8}")  # tempfile.TemporaryDirectory of older fmeval


@dataclass(frozen=True)
class Item:
    """One image of a dataset: its name, split, image path, optional mask and mask reader."""

    name: str
    split: str
    image: Path
    mask: Path | None
    mask_spec: MaskSpec = field(default_factory=MaskSpec)


def mask_spec(labels: Mapping) -> MaskSpec:
    return MaskSpec(labels.get("kind", "alpha"), labels.get("value"))


def _suffix(source: str, default: str) -> str:
    suffix = PurePosixPath(str(source).split("?")[0]).suffix
    return suffix if suffix else default


def _relative(path: Path, tmp: Path) -> str:
    return str(path.relative_to(tmp)) if path.is_relative_to(tmp) else str(path)


def _remove_old_downloads(folder: Path) -> None:
    """Delete ``tmpXXXXXXXX/`` download folders that a killed run of an older fmeval left."""
    if folder.is_dir():
        for old in folder.iterdir():
            if _OLD_DOWNLOAD.fullmatch(old.name) and old.is_dir() and not (old / MANIFEST).exists():
                shutil.rmtree(old, ignore_errors=True)


# part of a test-image entry: (file name after the test image's name, default suffix, sha256 key)
_TEST_FILES = {"image": ("", ".jpg", "sha256"), "mask": (".mask", ".png", "mask_sha256")}


def _fetch_test(
    entry: Mapping, i: int, *, tmp: Path, name: str, tname: str, spec, limits: Limits
) -> dict:
    """Fetch and check one test image and its optional mask; its manifest record."""
    key = f"datasets.{name}.test_images[{i}]"
    check = {
        "image": lambda path: open_image(
            path, min_side=MIN_IMAGE_SIDE, max_pixels=limits.max_image_pixels
        ),
        "mask": lambda path: read_mask(
            path, spec.for_test_masks(), max_pixels=limits.max_image_pixels
        ),
    }
    record = {"name": tname, "image": None, "mask": None}
    for part, (infix, default, sha_key) in _TEST_FILES.items():
        if part == "mask" and not entry.get("mask"):
            continue
        path = fetch(
            entry[part],
            tmp / "test" / f"{tname}{infix}{_suffix(entry[part], default)}",
            sha256=entry.get(sha_key),
            what=f"{name} test {part} {tname}",
            config_key=f"{key}.{part}",
            deadline_s=limits.deadline_s,
        )
        check[part](path)
        record[part] = _relative(path, tmp)
    return record


def _shown(path: Path, tmp: Path, part: str, cfg: Mapping) -> str:
    """How errors name a dataset file: a path of the user's, or a member of their archive
    (never the temporary folder it was extracted into, which is gone by then)."""
    folder = tmp / "raw" / part
    if path.is_relative_to(folder):
        return f"{path.relative_to(folder)} (in {cfg['source']})"
    return str(path)


def download_dataset(
    *,
    name: str,
    images: Mapping,
    labels: Mapping,
    test_images: Sequence[Mapping],
    out_dir: str | os.PathLike,
    deadline_s: float = DEADLINE_S,
    max_archive_bytes: int = DEFAULT_MAX_BYTES,
    max_archive_members: int = DEFAULT_MAX_MEMBERS,
    max_archive_ratio: float = DEFAULT_MAX_RATIO,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
) -> Path:
    """Fetch, verify, extract, pair and check a dataset; return its manifest path.

    Tarballs are downloaded inside the dataset's temporary folder and deleted after
    extraction, so a killed run leaves only a ``.tmp-*`` folder, which the next run deletes.
    Downloads and extraction are bounded by the config's ``downloads`` section.
    """
    out_dir = Path(out_dir)
    key = f"datasets.{name}"
    spec = mask_spec(labels)
    limits = Limits(
        deadline_s, max_archive_bytes, max_archive_members, max_archive_ratio, max_image_pixels
    )
    _remove_old_downloads(out_dir.parent)
    with atomic_dir(out_dir) as tmp:
        found = {
            part: collect(
                cfg,
                dest=tmp / "raw" / part,
                what=f"{name} {part}",
                key=f"{key}.{part}",
                limits=limits,
            )
            for part, cfg in (("images", images), ("labels", labels))
        }
        suffix = labels.get("suffix", "")
        pairs = pair_by_stem(*split_suffix(found["images"], found["labels"], suffix), suffix=suffix)
        train, names = [], {}
        for stem, image, label in pairs:
            tname = stem.replace("/", "-")
            if tname in names:
                raise DataError(f"images {names[tname]} and {image} both get the name {tname!r}")
            names[tname] = image
            open_image(
                image,
                min_side=MIN_IMAGE_SIDE,
                name=_shown(image, tmp, "images", images),
                max_pixels=max_image_pixels,
            )
            read_mask(
                label,
                spec,
                name=_shown(label, tmp, "labels", labels),
                max_pixels=max_image_pixels,
            )
            train.append(
                {"name": tname, "image": _relative(image, tmp), "mask": _relative(label, tmp)}
            )
        test, used = [], set(names)
        for i, entry in enumerate(test_images):
            tname = unique_test_name(entry, used)
            test.append(
                _fetch_test(entry, i, tmp=tmp, name=name, tname=tname, spec=spec, limits=limits)
            )
        manifest = {
            "dataset": name,
            "mask": {"kind": spec.kind, "value": spec.value},
            "train": train,
            "test": test,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out_dir / MANIFEST


def read_manifest(path: str | os.PathLike) -> list[Item]:
    """The items of a dataset manifest, train first, with absolute paths."""
    path = Path(path)
    manifest = json.loads(path.read_text())
    spec = MaskSpec(**manifest.get("mask", {"kind": "alpha"}))
    items = []
    for split in ("train", "test"):
        for rec in manifest[split]:
            items.append(
                Item(
                    name=rec["name"],
                    split=split,
                    image=path.parent / rec["image"],
                    mask=path.parent / rec["mask"] if rec["mask"] else None,
                    mask_spec=spec if split == "train" else spec.for_test_masks(),
                )
            )
    return items
