"""Reading a stage's files back: a file that does not read is one DataError naming it and the fix.

Every message has the form ``cannot read <what> <path> (<the library's reason>); <fix>``,
where the fix says which rule to rerun (and, for a file that exists but is damaged, to
delete it first).
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fmeval.errors import DataError, FmevalError

READ_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError)


@contextmanager
def reading(
    path: str | os.PathLike,
    *,
    fix: str,
    what: str = "",
    errors: tuple[type[Exception], ...] = READ_ERRORS,
) -> Iterator[None]:
    """Turn ``errors`` raised inside the block into one :class:`DataError` naming ``path``.

    fmeval's own errors pass through unchanged (they already say what to do).
    """
    try:
        yield
    except FmevalError:
        raise
    except errors as exc:
        named = f"{what} {path}" if what else str(path)
        raise DataError(f"cannot read {named} ({exc}); {fix}") from exc


def read_json(path: str | os.PathLike, *, fix: str, what: str = ""):
    """The JSON document at ``path``."""
    with reading(path, fix=fix, what=what):
        return json.loads(Path(path).read_text())


def load_npy(path: str | os.PathLike, *, fix: str, what: str = "") -> np.ndarray:
    """The array saved at ``path`` by ``np.save`` (no pickles)."""
    with reading(path, fix=fix, what=what):
        return np.load(path, allow_pickle=False)
