"""Atomic file and folder writes: a killed job never leaves a file that looks done."""

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_RANDOM = "[a-z0-9_]{8}"  # what tempfile puts between our prefix and suffix


def _remove_leftovers(path: Path, suffix: str = "") -> None:
    """Delete temporaries of ``path`` left by a killed earlier job (one job per output).

    The pattern is exact, ``.tmp-<name>.<8 random characters><suffix>``, so the
    temporary of a sibling output (``<name>.x``) is never taken for one of ours.
    """
    exact = re.compile(rf"\.tmp-{re.escape(path.name)}\.{_RANDOM}{re.escape(suffix)}")
    if not path.parent.is_dir():
        return
    for old in path.parent.iterdir():
        if not exact.fullmatch(old.name):
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception (or a kill before the rename) only a hidden ``.tmp-*`` file
    remains, which no rule declares as output, so a later run redoes the job.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; swap it in for ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
