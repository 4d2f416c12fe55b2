"""Video datasets in the DAVIS layout: find the sequences, read label maps, write the manifest.

A dataset is ``JPEGImages/<resolution>/<sequence>/<frame>.jpg`` with
``Annotations/<resolution>/<sequence>/<frame>.png`` beside it, from a folder (read in
place, never copied), a tarball or zip, or a URL (fetched and extracted). The manifest lists
one item per frame, named ``<sequence>/<frame>``, in the format of the segmentation
datasets' manifest, so the shared ``extract_features`` rule embeds every frame once.
"""

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmeval.errors import DataError
from fmeval.features.datasets import MANIFEST
from fmeval.features.images import MAX_IMAGE_PIXELS, open_image
from fmeval.io.archives import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    MEMBER_SUFFIXES,
    Bounds,
    extract_tarball,
    extract_zip,
)
from fmeval.io.atomic import atomic_dir
from fmeval.io.sources import DEADLINE_S, fetched, is_remote, local_path

IMAGES, ANNOTATIONS = "JPEGImages", "Annotations"
TARBALL_SUFFIXES = (*MEMBER_SUFFIXES, ".txt")  # frames, masks and the ImageSets/ lists


@dataclass(frozen=True)
class Frame:
    """One frame of a sequence: its name (``<sequence>/<frame>``), image and optional mask."""

    name: str
    image: Path
    mask: Path | None


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """A mask as a (H, W) uint8 map of object ids (0 = background).

    Palette PNGs (DAVIS 2017) keep their palette index, one per object; any other mode
    (DAVIS 2016's greyscale 0/255) is one object, foreground where the grey value > 0.
    """
    img = open_image(path)
    if img.mode == "P":
        return np.asarray(img, dtype=np.uint8)
    grey = np.asarray(img.convert("L"))
    return (grey > 0).astype(np.uint8)


def extract_archive(archive: Path, dest: Path, *, what: str, bounds: Bounds) -> None:
    """Extract a zip (the official DAVIS archives) or a tarball into ``dest``, within ``bounds``.

    Both go through :mod:`fmeval.io.archives`: absolute and ``..`` names (and a tarball's links
    and special files) are refused, and the member count and bytes are checked before anything
    is written; from a tarball only frames, masks and ``ImageSets/`` lists are extracted.
    """
    if zipfile.is_zipfile(archive):
        extract_zip(archive, dest, what=what, bounds=bounds, suffixes=TARBALL_SUFFIXES)
    else:
        extract_tarball(archive, dest, what=what, bounds=bounds, suffixes=TARBALL_SUFFIXES)


def image_set_names(root: Path, name: str) -> list[str]:
    """The sequence names listed in ``ImageSets/<name>.txt`` (e.g. DAVIS's ``2017/val``)."""
    path = root / "ImageSets" / f"{name}.txt"
    if not path.is_file():
        raise DataError(f"no image set {path}; set `image_set` to a file under ImageSets/ or null")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def find_root(folder: Path, resolution: str) -> Path:
    """The folder that holds ``JPEGImages/<resolution>`` (the top or one level down)."""
    for root in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        if (root / IMAGES / resolution).is_dir():
            return root
    raise DataError(
        f"{folder} is not a DAVIS-layout dataset: no {IMAGES}/{resolution}/ in it or one level "
        f"down. Point the source at the folder (or tarball) holding {IMAGES}/ and {ANNOTATIONS}/, "
        "or set `resolution` to the folder name under them."
    )


def find_frames(
    root: Path,
    *,
    resolution: str,
    sequences: Sequence[str] | None = None,
    max_frames: int | None = None,
) -> dict[str, list[Frame]]:
    """The frames of each sequence, sorted by name; the first frame must have a mask."""
    image_dir, mask_dir = root / IMAGES / resolution, root / ANNOTATIONS / resolution
    found = sorted(p.name for p in image_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    wanted = list(sequences) if sequences else found
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise DataError(
            f"sequences {missing} are not in {image_dir} (it holds {found[:20]}); "
            "fix `sequences` in the video dataset's config."
        )
    out = {}
    for seq in wanted:
        images = sorted(
            p for p in (image_dir / seq).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )[: max_frames or None]
        if not images:
            raise DataError(f"sequence {seq} has no frames in {image_dir / seq}")
        frames = []
        for img in images:
            mask = mask_dir / seq / f"{img.stem}.png"
            frames.append(Frame(f"{seq}/{img.stem}", img, mask if mask.is_file() else None))
        if frames[0].mask is None:
            raise DataError(
                f"sequence {seq} has no mask for its first frame "
                f"({mask_dir / seq / images[0].stem}.png); "
                "label propagation starts from it."
            )
        out[seq] = frames
    return out


def _check_frames(frames: dict[str, list[Frame]], *, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Every frame and mask opens (within ``max_pixels``), and each mask has its frame's size."""
    for items in frames.values():
        for f in items:
            size = open_image(f.image, max_pixels=max_pixels).size
            if f.mask is not None and open_image(f.mask, max_pixels=max_pixels).size != size:
                raise DataError(
                    f"the mask of {f.name} ({f.mask}) is not the size of its frame {size}; "
                    "masks and frames must match pixel for pixel."
                )


def download_video(
    *,
    name: str,
    source: str,
    sha256: str | None = None,
    resolution: str = "480p",
    sequences: Sequence[str] | None = None,
    image_set: str | None = None,
    max_frames: int | None = None,
    out_dir: str | os.PathLike,
    deadline_s: float = DEADLINE_S,
    max_archive_bytes: int = DEFAULT_MAX_BYTES,
    max_archive_members: int = DEFAULT_MAX_MEMBERS,
    max_archive_ratio: float = DEFAULT_MAX_RATIO,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
) -> Path:
    """Fetch (a tarball, zip or URL) or locate (a folder) a video dataset; write its manifest.

    ``sequences`` (or else the sequences listed in ``ImageSets/<image_set>.txt``, or else
    every sequence) are used, each cut to its first ``max_frames`` frames when given. The
    download and the extraction are bounded by the config's ``downloads`` section.
    """
    out_dir = Path(out_dir)
    key = f"video.datasets.{name}.source"
    with atomic_dir(out_dir) as tmp:
        folder = None if is_remote(source) else local_path(source)
        if folder is not None and folder.is_dir():
            root = find_root(folder.resolve(), resolution)  # read in place: paths are absolute
        else:
            what = f"video dataset {name}"
            with fetched(
                source,
                tmp,
                name="video.tar",
                sha256=sha256,
                what=what,
                config_key=key,
                deadline_s=deadline_s,
            ) as archive:
                extract_archive(
                    archive,
                    tmp / "raw",
                    what=f"video dataset {name} ({source})",
                    bounds=Bounds(max_archive_bytes, max_archive_members, max_archive_ratio),
                )
            root = find_root(tmp / "raw", resolution)
        if image_set and not sequences:
            sequences = image_set_names(root, image_set)
        frames = find_frames(
            root, resolution=resolution, sequences=sequences, max_frames=max_frames
        )
        _check_frames(frames, max_pixels=max_image_pixels)

        def rel(path: Path) -> str:
            return str(path.relative_to(tmp)) if path.is_relative_to(tmp) else str(path)

        items = [
            {"name": f.name, "image": rel(f.image), "mask": rel(f.mask) if f.mask else None}
            for seq in frames.values()
            for f in seq
        ]
        manifest = {
            "dataset": name,
            "kind": "video",
            "train": [],
            "test": items,
            "sequences": {seq: [f.name for f in fs] for seq, fs in frames.items()},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out_dir / MANIFEST


def read_video_manifest(path: str | os.PathLike) -> dict[str, list[Frame]]:
    """The frames of each sequence of a video dataset manifest, with absolute paths."""
    path = Path(path)
    manifest = json.loads(path.read_text())
    if manifest.get("kind") != "video":
        raise DataError(f"{path} is not a video dataset manifest (no `kind: video`)")
    items = {rec["name"]: rec for rec in manifest["test"]}
    return {
        seq: [
            Frame(
                name,
                path.parent / items[name]["image"],
                path.parent / items[name]["mask"] if items[name]["mask"] else None,
            )
            for name in names
        ]
        for seq, names in manifest["sequences"].items()
    }
