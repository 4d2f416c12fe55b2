"""The CIFAR-10 python archive (``cifar-10-python.tar.gz``): pickled batches, read safely.

Each batch is a pickled dict with ``data`` (N x 3072 uint8, channel-major 32 x 32 RGB),
``labels`` and ``filenames``; ``batches.meta`` holds ``label_names``. The pickles are read
by :class:`SafeUnpickler`, which builds numpy arrays, lists, dicts, bytes and strings and
refuses every other global, so a crafted archive cannot run code. The archive is not
extracted: its seven pickles are read from the tar stream by exact name, each a regular file
within a size bound, so nothing from the archive lands on disk but the decoded PNGs, written
to ``<out>/train/<class>/`` and ``<out>/test/<class>/`` (a class-folder dataset).
"""

import io
import logging
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from fmeval.errors import DataError

log = logging.getLogger(__name__)

SIDE = 32
ROW = 3 * SIDE * SIDE
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
MAX_MEMBER_BYTES = 64 * 2**20  # a CIFAR-10 batch is 31 MB
MAX_MEMBERS = 10_000  # the official archive has 8

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


def read_batch(data: bytes, name: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,)) of one pickled batch, checked."""
    what = f"CIFAR batch {name}"
    record = safe_load(data, what=what)
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


def read_class_names(data: bytes) -> list[str]:
    what = f"CIFAR {META}"
    names = [_text(n) for n in _get(safe_load(data, what=what), "label_names", what=what)]
    if len(set(names)) != len(names) or len(names) < 2 or any(not n or "/" in n for n in names):
        raise DataError(f"{what}: label_names {names} must be at least 2 distinct folder names")
    return names


def read_members(archive: str | Path, names: tuple[str, ...], *, what: str) -> dict[str, bytes]:
    """The bytes of the members named ``names`` (by file name, in any folder), bounded."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise DataError(f"{what} has more than {MAX_MEMBERS} members; not CIFAR-10")
                base = PurePosixPath(member.name).name
                if base not in names:
                    continue
                if not member.isfile() or base in found or member.size > MAX_MEMBER_BYTES:
                    raise DataError(
                        f"{what}: member {member.name!r} is not a single regular file of at most "
                        f"{MAX_MEMBER_BYTES} bytes; this is not the official CIFAR-10 archive"
                    )
                found[base] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"{what} is not a readable tarball ({type(exc).__name__}: {exc}); it is corrupt or "
            "truncated. Download it again (and check its sha256)."
        ) from exc
    missing = [n for n in names if n not in found]
    if missing:
        raise DataError(
            f"{what} lacks {missing}; expected cifar-10-batches-py/ with data_batch_1..5, "
            "test_batch and batches.meta (the CIFAR-10 python version)"
        )
    return found


def decode_cifar(archive: str | Path, out: str | Path) -> Path:
    """Write the images of a CIFAR-10 python archive as PNG class folders in ``out``."""
    out = Path(out)
    members = read_members(
        archive, (META, *TRAIN_BATCHES, TEST_BATCH), what=f"CIFAR archive {archive}"
    )
    names = read_class_names(members.pop(META))
    for split, batches in (("train", TRAIN_BATCHES), ("test", (TEST_BATCH,))):
        for batch in batches:
            images, labels = read_batch(members.pop(batch), batch, len(names))
            for i, (pixels, label) in enumerate(zip(images, labels)):
                folder = out / split / names[int(label)]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels, mode="RGB").save(folder / f"{batch}-{i:05d}.png")
            log.info("decoded %s: %d images", batch, len(images))
    return out
