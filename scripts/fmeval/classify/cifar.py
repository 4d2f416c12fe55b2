"""The CIFAR-10 python archive (``cifar-10-python.tar.gz``): pickled batches, read safely.

Each batch is a pickled dict with ``data`` (N x 3072 uint8, channel-major 32 x 32 RGB),
``labels`` and ``filenames``; ``batches.meta`` holds ``label_names``. The pickles are read
by :class:`SafeUnpickler`, which builds numpy arrays, lists, dicts, bytes and strings and
refuses every other global, so a crafted archive cannot run code. The images are written
as PNGs to ``<out>/train/<class>/`` and ``<out>/test/<class>/``, a class-folder dataset.
"""

import io
import logging
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from fmeval.errors import DataError
from fmeval.io.archives import extract_tarball

log = logging.getLogger(__name__)

SIDE = 32
ROW = 3 * SIDE * SIDE
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "bytes"),
    ("builtins", "str"),
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals numpy arrays and plain containers need."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name}: only numpy arrays, lists, dicts, bytes and "
                "strings may appear in a CIFAR batch"
            )
        if module == "numpy.core.multiarray":  # numpy 2 renamed numpy.core to numpy._core
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def safe_load(data: bytes, *, what: str):
    """Unpickle ``data`` (Python 2 pickles: bytes stay bytes) with :class:`SafeUnpickler`."""
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # any failure of untrusted input is a data error
        raise DataError(
            f"{what} is not a CIFAR pickle this reader accepts ({type(exc).__name__}: {exc}); "
            "use the official cifar-10-python.tar.gz."
        ) from exc


def _get(record, key: str, *, what: str):
    if not isinstance(record, dict):
        raise DataError(f"{what} holds a {type(record).__name__}, not a dict of CIFAR fields")
    for k in (key.encode(), key):
        if k in record:
            return record[k]
    raise DataError(f"{what} has no {key!r} field (fields: {list(record)[:10]})")


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_batch(path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,)) of one batch file, checked."""
    what = f"CIFAR batch {path.name}"
    record = safe_load(path.read_bytes(), what=what)
    data = _get(record, "data", what=what)
    labels = _get(record, "labels", what=what)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(
            f"{what}: data is {getattr(data, 'dtype', type(data).__name__)} "
            f"{getattr(data, 'shape', '')}, expected a uint8 array of shape (N, {ROW})"
        )
    if data.shape[1] != ROW:
        raise DataError(
            f"{what}: data has shape {data.shape}, expected (N, {ROW}) (32 x 32 RGB rows); "
            "this is not a CIFAR-10 batch."
        )
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu":
        raise DataError(
            f"{what}: {labels.shape} labels for {data.shape[0]} images; expected one integer each"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{what}: labels outside 0..{n_classes - 1}")
    return data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1), labels


def read_class_names(path: Path) -> list[str]:
    what = f"CIFAR {path.name}"
    names = [
        _text(n) for n in _get(safe_load(path.read_bytes(), what=what), "label_names", what=what)
    ]
    if len(set(names)) != len(names) or len(names) < 2 or any(not n or "/" in n for n in names):
        raise DataError(f"{what}: label_names {names} must be at least 2 distinct folder names")
    return names


def _find(root: Path, name: str) -> Path:
    found = sorted(root.rglob(name))
    if len(found) != 1:
        raise DataError(
            f"the CIFAR archive holds {len(found)} file(s) named {name!r}; expected one "
            "(cifar-10-batches-py/ with data_batch_1..5, test_batch and batches.meta)"
        )
    return found[0]


def decode_cifar(archive: str | Path, out: str | Path, *, work: str | Path) -> Path:
    """Extract ``archive`` under ``work`` and write its images as PNG class folders in ``out``."""
    out, work = Path(out), Path(work)
    extract_tarball(archive, work, what=f"CIFAR archive {archive}")
    names = read_class_names(_find(work, META))
    for split, batches in (("train", TRAIN_BATCHES), ("test", (TEST_BATCH,))):
        for batch in batches:
            images, labels = read_batch(_find(work, batch), len(names))
            for i, (pixels, label) in enumerate(zip(images, labels)):
                folder = out / split / names[int(label)]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels, mode="RGB").save(folder / f"{batch}-{i:05d}.png")
            log.info("decoded %s: %d images", batch, len(images))
    return out
