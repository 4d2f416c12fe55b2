"""Small archives in the CIFAR-10 python format, built in the tests (never downloaded).

Batches are pickled as the official archive's are: a dict of bytes keys with a uint8
``data`` array (N x 3072), ``labels`` and ``filenames``; numpy's ``_reconstruct`` is named
``numpy.core.multiarray`` as in the Python 2 pickles of the real file.
"""

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

CLASSES = ["airplane", "automobile", "bird"]
FOLDER = "cifar-10-batches-py"


def dumps(obj) -> bytes:
    return pickle.dumps(obj, protocol=3).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )


def batch(n: int, seed: int, n_classes: int = len(CLASSES), row: int = 3072) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"fixture",
        b"labels": [int(i % n_classes) for i in range(n)],
        b"data": rng.integers(0, 256, size=(n, row), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


def write_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def cifar_members(n: int = 6, **overrides: bytes) -> dict[str, bytes]:
    members = {"batches.meta": dumps({b"label_names": [c.encode() for c in CLASSES]})}
    for i in range(1, 6):
        members[f"data_batch_{i}"] = dumps(batch(n, seed=i))
    members["test_batch"] = dumps(batch(n, seed=99))
    members.update(overrides)
    return members


class Exploit:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))
