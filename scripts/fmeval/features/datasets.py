"""Segmentation datasets: fetch the image and label tarballs, pair them, write a manifest.

A dataset folder holds ``images/``, ``labels/``, ``test/`` and ``manifest.json``;
the manifest is the rule's output and is written last, so a partial folder is never
taken as done.
"""

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fmeval.errors import DataError
from fmeval.features.images import IMAGE_SUFFIXES, MIN_IMAGE_SIDE, alpha_of, load_mask, open_image
from fmeval.features.names import unique_test_name
from fmeval.io.archives import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMBERS, extract_tarball
from fmeval.io.atomic import atomic_dir
from fmeval.io.sources import DEADLINE_S, fetch

MANIFEST = "manifest.json"
_OLD_DOWNLOAD = re.compile("tmp[a-z0-9_]{8}")  # tempfile.TemporaryDirectory of fmeval <= issue 9


@dataclass(frozen=True)
class Item:
    """One image of a dataset: its name, split, image path and optional mask path."""

    name: str
    split: str
    image: Path
    mask: Path | None
    mask_in_alpha: bool = True


def image_files(paths: Sequence[Path]) -> dict[str, Path]:
    """Image files keyed by stem, sorted; hidden files (``._*``, ``.DS_Store``) are ignored."""
    found: dict[str, Path] = {}
    for path in sorted(paths):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in found:
            raise DataError(
                f"two files share the stem {path.stem!r}: {found[path.stem]} and {path}"
            )
        found[path.stem] = path
    return found


def pair_by_stem(
    images: Mapping[str, Path], labels: Mapping[str, Path]
) -> list[tuple[str, Path, Path]]:
    """(stem, image, label) for each stem, sorted; any mismatch is one clear error."""
    only_images = sorted(set(images) - set(labels))
    only_labels = sorted(set(labels) - set(images))
    if only_images or only_labels or not images:
        raise DataError(
            f"images and labels do not pair by file stem ({len(images)} images, {len(labels)} "
            "labels); "
            f"images without a label: {only_images[:10]}; labels without an image: "
            f"{only_labels[:10]}. "
            "Each images/<stem>.jpg needs a labels/<stem>.png."
        )
    return [(stem, images[stem], labels[stem]) for stem in sorted(images)]


def _suffix(source: str, default: str) -> str:
    suffix = PurePosixPath(str(source).split("?")[0]).suffix
    return suffix if suffix else default


def _remove_old_downloads(folder: Path) -> None:
    """Delete ``tmpXXXXXXXX/`` download folders that a killed run of an older fmeval left."""
    if folder.is_dir():
        for old in folder.iterdir():
            if _OLD_DOWNLOAD.fullmatch(old.name) and old.is_dir() and not (old / MANIFEST).exists():
                shutil.rmtree(old, ignore_errors=True)


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
) -> Path:
    """Fetch, verify, extract, pair and check a dataset; return its manifest path.

    The tarballs are downloaded inside the dataset's temporary folder and deleted before
    it becomes the dataset, so a killed run leaves only a ``.tmp-*`` folder, which the
    next run deletes. Extraction is bounded by ``max_archive_bytes`` and
    ``max_archive_members`` (``downloads.*`` in the config).
    """
    out_dir = Path(out_dir)
    key = f"datasets.{name}"
    _remove_old_downloads(out_dir.parent)
    with atomic_dir(out_dir) as tmp:
        dl = tmp / ".download"
        archives = {}
        sources = {"images": images, "labels": labels}
        for part, source in sources.items():
            archives[part] = fetch(
                source["source"],
                dl / f"{part}.tar",
                sha256=source.get("sha256"),
                what=f"{name} {part} tarball",
                config_key=f"{key}.{part}.source",
                deadline_s=deadline_s,
            )
        found = {
            part: image_files(
                extract_tarball(
                    archives[part],
                    tmp / "raw" / part,
                    what=f"{name} {part} tarball {sources[part]['source']}",
                    max_bytes=max_archive_bytes,
                    max_members=max_archive_members,
                    suffixes=IMAGE_SUFFIXES,
                )
            )
            for part in archives
        }
        shutil.rmtree(dl)
        pairs = pair_by_stem(found["images"], found["labels"])
        train = []
        for stem, image, label in pairs:
            open_image(image, min_side=MIN_IMAGE_SIDE)
            alpha_of(open_image(label), name=str(label.relative_to(tmp / "raw" / "labels")))
            train.append(
                {
                    "name": stem,
                    "image": str(image.relative_to(tmp)),
                    "mask": str(label.relative_to(tmp)),
                }
            )

        test, used = [], {item["name"] for item in train}
        for i, entry in enumerate(test_images):
            tname = unique_test_name(entry, used)
            image = fetch(
                entry["image"],
                tmp / "test" / f"{tname}{_suffix(entry['image'], '.jpg')}",
                sha256=entry.get("sha256"),
                what=f"{name} test image {tname}",
                config_key=f"{key}.test_images[{i}].image",
                deadline_s=deadline_s,
            )
            open_image(image, min_side=MIN_IMAGE_SIDE)
            record = {"name": tname, "image": str(image.relative_to(tmp)), "mask": None}
            if entry.get("mask"):
                mask = fetch(
                    entry["mask"],
                    tmp / "test" / f"{tname}.mask{_suffix(entry['mask'], '.png')}",
                    sha256=entry.get("mask_sha256"),
                    what=f"{name} test mask {tname}",
                    config_key=f"{key}.test_images[{i}].mask",
                    deadline_s=deadline_s,
                )
                load_mask(mask, from_alpha=False)
                record["mask"] = str(mask.relative_to(tmp))
            test.append(record)

        manifest = {"dataset": name, "train": train, "test": test}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out_dir / MANIFEST


def read_manifest(path: str | os.PathLike) -> list[Item]:
    """The items of a dataset manifest, train first, with absolute paths."""
    path = Path(path)
    manifest = json.loads(path.read_text())
    items = []
    for split in ("train", "test"):
        for rec in manifest[split]:
            items.append(
                Item(
                    name=rec["name"],
                    split=split,
                    image=path.parent / rec["image"],
                    mask=path.parent / rec["mask"] if rec["mask"] else None,
                    mask_in_alpha=split == "train",
                )
            )
    return items
