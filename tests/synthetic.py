"""Synthetic segmentation datasets in the DAVIS/DINOv3 tarball format, for offline tests.

``images/<stem>.jpg`` in one tarball and ``labels/<stem>.png`` (RGBA, alpha = mask) in
another, plus test images with and without a mask, all small enough that a random
ViT-S/14 embeds them in well under a second.
"""

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

# (stem, width, height): two grid shapes at every resolution, so batching by shape matters.
TRAIN = (("alpha", 64, 48), ("bravo", 64, 48), ("charlie", 80, 48), ("delta", 64, 48))
TEST = (("echo", 72, 48, True), ("foxtrot", 48, 64, False))  # (stem, w, h, has mask)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def photo(width: int, height: int, *, seed: int) -> Image.Image:
    """A smooth random RGB picture (JPEG-friendly)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.uniform(0, 255, size=3)
    arr = (
        base
        + 60 * np.sin(xx[..., None] / (5 + seed) + rng.uniform(0, 6, 3))
        + 40 * np.cos(yy[..., None] / 7)
    )
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def disc_mask(width: int, height: int, *, seed: int) -> np.ndarray:
    """A uint8 mask (0/255) with a disc of foreground."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    r = rng.uniform(0.2, 0.35) * min(width, height)
    return np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r**2, 255, 0).astype(np.uint8)


def rgba_label(mask: np.ndarray) -> Image.Image:
    """A label as the DINOv3 tutorial ships them: black RGB, the mask in alpha."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[..., 3] = mask
    return Image.fromarray(rgba, "RGBA")


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_tarball(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            add_file(tar, name, data)
    return path


def make_dataset(root: Path, *, train=TRAIN, test=TEST) -> dict:
    """Write tarballs and test files under ``root``; return the dataset's config entry."""
    root = Path(root)
    images, labels = {}, {}
    for i, (stem, w, h) in enumerate(train):
        images[f"images/{stem}.jpg"] = encode(photo(w, h, seed=i), "JPEG")
        labels[f"labels/{stem}.png"] = encode(rgba_label(disc_mask(w, h, seed=i)), "PNG")
    images_tar = write_tarball(root / "synthetic_images.tar.gz", images)
    labels_tar = write_tarball(root / "synthetic_labels.tar.gz", labels)
    entry = {
        "images": {"source": images_tar.as_uri(), "sha256": sha256(images_tar)},
        "labels": {"source": labels_tar.as_uri(), "sha256": sha256(labels_tar)},
        "test_images": [],
    }
    (root / "test").mkdir(exist_ok=True)
    for j, (stem, w, h, has_mask) in enumerate(test):
        image = root / "test" / f"{stem}.jpg"
        photo(w, h, seed=100 + j).save(image)
        record = {"name": stem, "image": image.as_uri(), "sha256": sha256(image)}
        if has_mask:
            mask = root / "test" / f"{stem}.mask.png"
            Image.fromarray(disc_mask(w, h, seed=100 + j), "L").save(mask)
            record["mask"] = str(mask)  # a plain path, the third kind of source
        entry["test_images"].append(record)
    return entry


def grid_cells(width: int, height: int, *, res: int, patch_size: int = 14) -> int:
    """The tutorial's patch count: rows = res // p, cols = int(w * res / (h * p))."""
    return (res // patch_size) * int((width * res) / (height * patch_size))
