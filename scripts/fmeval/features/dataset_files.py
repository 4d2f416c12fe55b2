"""A dataset part's image files by key, and images paired with their masks by key.

A part (``images`` or ``labels``) comes from a ``source`` (a local folder, or a tarball by
path or URL, extracted) or a list of ``files``; an optional glob ``pattern`` picks files
under the folder or tarball. A file's key is its stem, or with a ``pattern`` its path below
the pattern's fixed prefix without its extension; a mask's key drops the labels' ``suffix``.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fmeval.errors import ConfigError, DataError
from fmeval.features.images import IMAGE_SUFFIXES, MAX_IMAGE_PIXELS
from fmeval.io.archives import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    Bounds,
    extract_tarball,
)
from fmeval.io.sources import DEADLINE_S, fetch, is_remote, local_path

GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Limits:
    """Bounds on one download and one tarball (the config's ``downloads`` section)."""

    deadline_s: float = DEADLINE_S
    max_archive_bytes: int = DEFAULT_MAX_BYTES
    max_archive_members: int = DEFAULT_MAX_MEMBERS
    max_archive_ratio: float = DEFAULT_MAX_RATIO
    max_image_pixels: int = MAX_IMAGE_PIXELS


def _fixed_prefix(pattern: str) -> PurePosixPath:
    """The leading path components of a glob pattern that hold no wildcard."""
    fixed = []
    for part in PurePosixPath(pattern).parent.parts:
        if GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return PurePosixPath(*fixed)


def image_files(
    paths: Sequence[Path], *, root: Path | None = None, pattern: str | None = None
) -> dict[str, Path]:
    """Image files by key (the stem, or the path below ``pattern``'s fixed prefix), sorted.

    Hidden files (``._*``, ``.DS_Store``) and other file types are ignored.
    """
    found: dict[str, Path] = {}
    base = root / _fixed_prefix(pattern) if (root is not None and pattern) else None
    for path in sorted(paths):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        key = path.relative_to(base).with_suffix("").as_posix() if base else path.stem
        if key in found:
            raise DataError(f"two files share the stem {key!r}: {found[key]} and {path}")
        found[key] = path
    return found


def split_suffix(
    images: Mapping[str, Path], labels: Mapping[str, Path], suffix: str
) -> tuple[dict, dict]:
    """Drop ``suffix`` from mask keys; files of the other kind in a shared folder are ignored."""
    if not suffix:
        return dict(images), dict(labels)
    masks = {k[: -len(suffix)]: p for k, p in labels.items() if k.endswith(suffix)}
    return {k: p for k, p in images.items() if not k.endswith(suffix)}, masks


def pair_by_stem(
    images: Mapping[str, Path], labels: Mapping[str, Path], *, suffix: str = ""
) -> list[tuple[str, Path, Path]]:
    """(key, image, label) for each key, sorted; any mismatch is one clear error."""
    only_images = sorted(set(images) - set(labels))
    only_labels = sorted(set(labels) - set(images))
    if only_images or only_labels or not images:
        raise DataError(
            f"images and labels do not pair by file stem ({len(images)} images, {len(labels)} "
            f"labels); images without a label: {only_images[:10]}; labels without an image: "
            f"{only_labels[:10]}. Each image <stem>.jpg needs a label <stem>{suffix}.png "
            "(set datasets.<name>.labels.suffix, e.g. `_mask`, when mask names carry one)."
        )
    return [(key, images[key], labels[key]) for key in sorted(images)]


def collect(
    part: Mapping, *, dest: Path, what: str, key: str, limits: Limits = Limits()
) -> dict[str, Path]:
    """The image files of one part (``images`` or ``labels``) by key; tarballs extracted."""
    source, files, pattern = part.get("source"), part.get("files"), part.get("pattern")
    if (source is None) == (files is None):
        raise ConfigError(f"{key} needs exactly one of `source` (folder or tarball) or `files`")
    if files is not None:
        paths = [local_path(f).resolve() for f in files]
        if missing := [str(p) for p in paths if not p.is_file()]:
            raise DataError(f"{what}: listed files do not exist: {missing[:5]} ({key}.files)")
        return image_files(paths)
    if not is_remote(source) and local_path(source).is_dir():
        if part.get("sha256"):
            raise ConfigError(f"{key}.sha256 applies to a tarball; {source} is a folder")
        root = local_path(source).resolve()
        paths = root.glob(pattern) if pattern else root.rglob("*")
        return image_files([p for p in paths if p.is_file()], root=root, pattern=pattern)
    archive = fetch(
        source,
        dest.parent / f".{dest.name}.tar",
        sha256=part.get("sha256"),
        what=f"{what} tarball",
        config_key=f"{key}.source",
        deadline_s=limits.deadline_s,
    )
    paths = extract_tarball(
        archive,
        dest,
        what=f"{what} tarball {source}",
        bounds=Bounds(
            limits.max_archive_bytes, limits.max_archive_members, limits.max_archive_ratio
        ),
        suffixes=IMAGE_SUFFIXES,
    )
    archive.unlink()
    if pattern:
        paths = [p for p in dest.glob(pattern) if p.is_file()]
    return image_files(paths, root=dest, pattern=pattern)
