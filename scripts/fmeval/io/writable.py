"""A run's output folders are writable: checked once when a run starts, before any job.

Snakemake creates a job's output folder itself, so a read-only ``results/`` would otherwise
end in its traceback before any fmeval code runs. :func:`check_writable` writes (and
deletes) a probe file in each output folder of the working directory, in the nearest
existing folder above one that does not exist yet, and in every file system mounted below
them (``/proc/self/mountinfo``), so a read-only mount deeper down is found as well.
"""

import errno
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from fmeval.errors import FmevalError

OUTPUT_FOLDERS = ("results", "resources", "logs", "benchmarks")
MOUNTINFO = Path("/proc/self/mountinfo")
_OCTAL = re.compile(r"\\([0-7]{3})")  # how mountinfo escapes a space, tab, newline, backslash
_FIXES = {
    errno.EROFS: (
        "read-only file system",
        "remount it read-write, or run fmeval in a writable working directory "
        "(snakemake --directory <folder>)",
    ),
    errno.EACCES: (
        "permission denied",
        "make it writable (e.g. `chmod -R u+w {folder}`), or run fmeval in a writable "
        "working directory (snakemake --directory <folder>)",
    ),
}
_FIXES[errno.EPERM] = ("operation not permitted", _FIXES[errno.EACCES][1])
_FIXES[errno.ENOSPC] = ("disk full", "free space there (or work in a folder on a larger disk)")
_FIXES[errno.EDQUOT] = ("disk quota exceeded", _FIXES[errno.ENOSPC][1])


class UnwritableFolder(FmevalError):
    """An output folder of the run cannot be written."""


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def mounts_below(folders: Iterable[Path], mountinfo: Path = MOUNTINFO) -> list[Path]:
    """The mount points that lie inside ``folders`` (none where /proc is absent)."""
    roots = [f.resolve() for f in folders]
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        point = Path(_OCTAL.sub(lambda m: chr(int(m[1], 8)), fields[4]))  # \040: a space
        if any(point != root and point.is_relative_to(root) for root in roots):
            found.append(point)
    return sorted(set(found))


def probe(folder: Path) -> OSError | None:
    """The error of writing a file in ``folder`` (None: writable)."""
    try:
        fd, path = tempfile.mkstemp(prefix=".tmp-fmeval-write-check.", dir=folder)
    except OSError as exc:
        return exc
    os.close(fd)
    os.unlink(path)
    return None


def check_writable(folders: Iterable[str] = OUTPUT_FOLDERS, base: str | os.PathLike = ".") -> None:
    """Raise :class:`UnwritableFolder`, one line with the fix, for the first output folder
    (or a file system mounted below one) that cannot be written."""
    base = Path(base)
    tops = [base / f for f in folders]
    for folder in [*tops, *mounts_below(tops)]:
        where = _nearest_existing(folder)
        exc = probe(where) if where.is_dir() else None
        if exc is None:
            continue
        cause, fix = _FIXES.get(exc.errno, (exc.strerror or str(exc), "make it writable"))
        code = errno.errorcode.get(exc.errno, "?")
        shown = f"{where}/" if where == folder else f"{where}/ (where {folder}/ would be made)"
        raise UnwritableFolder(
            f"cannot write in {shown}: {cause} ({code}); nothing was run. "
            f"{fix.format(folder=where)[0].upper()}{fix.format(folder=where)[1:]}, and rerun."
        )
