"""Class-folder datasets: ``<class>/*.jpg`` folders, split by folder or by a seeded split.

Two layouts are read: ``train/<class>/`` beside ``val/<class>/`` (or ``test/<class>/``), the
evaluation split; or one folder of ``<class>/`` sub-folders, split per class with a seeded
stratified split (images sorted by class and file name, so by frame index for video frames).
Every image is one :class:`Labelled` item; its name ``<split>/<class>/<stem>`` is unique.
"""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from fmeval.classify.splits import stratified_split
from fmeval.errors import DataError
from fmeval.features.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

TRAIN = "train"
TEST = "test"
EVAL_FOLDERS = ("val", "test")  # the evaluation split's folder; it is the manifest's "test"


@dataclass(frozen=True)
class Labelled:
    """One image of a classification dataset."""

    name: str
    split: str  # "train" or "test"
    label: str
    image: Path


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def unwrap(root: Path) -> Path:
    """Descend through single wrapper folders (``cifar/``, ``mydata/``) to the dataset root."""
    while True:
        entries = _visible(root)
        if (
            len(entries) != 1
            or not entries[0].is_dir()
            or entries[0].name in (TRAIN, *EVAL_FOLDERS)
        ):
            return root
        if any(_is_image(p) for p in entries[0].iterdir()):
            return root  # a single class folder: reported by class_folders
        root = entries[0]


def class_folders(folder: Path, *, what: str) -> dict[str, list[Path]]:
    """Images of each ``<class>/`` sub-folder (searched recursively), sorted; checked."""
    if not folder.is_dir():
        raise DataError(f"{what}: {folder} is not a folder of class sub-folders")
    classes = {}
    for sub in _visible(folder):
        if not sub.is_dir():
            continue
        images = sorted(p for p in sub.rglob("*") if _is_image(p) and not p.name.startswith("."))
        if not images:
            raise DataError(
                f"{what}: the class folder {sub} has no images (looked for "
                f"{', '.join(IMAGE_SUFFIXES)}); add images to it or remove the folder."
            )
        classes[sub.name] = images
    if len(classes) < 2:
        raise DataError(
            f"{what}: {folder} has {len(classes)} class folder(s) {sorted(classes)}; "
            "classification needs at least 2 (one sub-folder per class, images inside)."
        )
    return classes


def _items(
    classes: dict[str, list[Path]], split: str, held: set[int] = frozenset()
) -> list[Labelled]:
    """One item per image, in class then file order; positions in ``held`` go to the test split."""
    flat = [(label, path) for label, paths in classes.items() for path in paths]
    out = []
    for n, (label, path) in enumerate(flat):
        where = TEST if n in held else split
        out.append(Labelled(f"{where}/{label}/{path.stem}", where, label, path))
    return out


def _named(items: list[Labelled]) -> list[Labelled]:
    """Items with unique names: a stem seen twice in one class folder gets its sub-path."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        n = seen.get(item.name, 0)
        seen[item.name] = n + 1
        name = item.name if n == 0 else f"{item.name}-{n + 1}"
        out.append(Labelled(name, item.split, item.label, item.image))
    return out


def check_one_class_each(items: list[Labelled], *, what: str) -> None:
    """An image (same bytes) filed under two classes is an error: its label is ambiguous."""
    first: dict[str, Labelled] = {}
    for item in items:
        digest = hashlib.sha256(item.image.read_bytes()).hexdigest()
        other = first.setdefault(digest, item)
        if other.label != item.label:
            raise DataError(
                f"{what}: the same image is in two classes, {other.label!r} ({other.image}) and "
                f"{item.label!r} ({item.image}); keep it in one class folder only."
            )
        if other is not item and other.split != item.split:
            log.warning("%s: %s and %s are the same image in train and test", what, other, item)


def scan_folder(
    root: Path, *, test_fraction: float, seed: int, what: str, check_duplicates: bool = True
) -> list[Labelled]:
    """The labelled items of a class-folder dataset at ``root`` (either layout), checked."""
    root = unwrap(Path(root))
    present = [f for f in EVAL_FOLDERS if (root / f).is_dir()]
    if (root / TRAIN).is_dir():
        if len(present) != 1:
            raise DataError(
                f"{what}: {root} has train/ and {present or 'no'} evaluation folder(s); it needs "
                "exactly one of val/ or test/ beside train/ (or no train/ and a seeded split)."
            )
        train = class_folders(root / TRAIN, what=what)
        test = class_folders(root / present[0], what=what)
        unknown = sorted(set(test) - set(train))
        if unknown:
            raise DataError(
                f"{what}: classes {unknown[:10]} are in {present[0]}/ but not in train/; "
                "every evaluation class needs training images."
            )
        items = _items(train, TRAIN) + _items(test, TEST)
    else:
        classes = class_folders(root, what=what)
        labels = [label for label, paths in classes.items() for _ in paths]
        _, held = stratified_split(
            labels, fraction=test_fraction, seed=seed, what=f"{what} test split"
        )
        items = _items(classes, TRAIN, held=set(held.tolist()))
    items = _named(items)
    if check_duplicates:
        check_one_class_each(items, what=what)
    return items
