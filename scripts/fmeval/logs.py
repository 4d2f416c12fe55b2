"""Logging for rule scripts: everything goes to the rule's log; a user error is one line.

Snakemake shows a failed job's log (the profile sets ``show-failed-logs``), so the
error is written once, to the log, and the user sees it once. Without a log path
the messages go to stderr instead.
"""

import errno
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmeval.errors import FmevalError
from fmeval.runtime import set_threads


def run_logged(
    log_path: str | None, fn: Callable[..., Any], /, *, threads: int = 1, **kwargs: Any
) -> Any:
    """Call ``fn(**kwargs)`` on ``threads`` CPU threads, logging to ``log_path`` (or stderr).

    A :class:`FmevalError` becomes one clear ``ERROR:`` line and exit status 1,
    without a traceback to wade through; other exceptions keep their traceback,
    which also goes to the log.
    """
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_path, mode="w")
    else:
        handler = logging.StreamHandler(sys.stderr)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    logging.captureWarnings(True)
    log = logging.getLogger("fmeval")
    set_threads(threads)
    try:
        return fn(**kwargs)
    except FmevalError as exc:
        log.error("%s", exc)
        sys.exit(1)
    except OSError as exc:
        message = environment_fault(exc)
        if message is None:
            log.exception("unexpected error (a bug, please report it with this log)")
            raise
        log.error("%s", message)
        sys.exit(1)
    except Exception:
        log.exception("unexpected error (a bug, please report it with this log)")
        raise


_FREE = "free space there (or work in a folder on a larger disk) and rerun"
_WRITABLE = (
    "make the folder writable (e.g. `chmod -R u+w results`) or run in a writable "
    "working directory, and rerun"
)
FAULTS = {
    errno.ENOSPC: ("disk full", _FREE),
    errno.EDQUOT: ("disk quota exceeded", _FREE),
    errno.EROFS: ("read-only file system", _WRITABLE),
    errno.EACCES: ("permission denied", _WRITABLE),
    errno.EPERM: ("operation not permitted", _WRITABLE),
}
# fmeval.io.atomic's temporaries: .tmp-<output name>.<8 random characters>[suffix]
_TEMPORARY = re.compile(r"\.tmp-(?P<name>.+)\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?")


def output_of(path: str) -> str:
    """The output an atomic temporary stands for (``path`` itself if it is not one)."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        found = _TEMPORARY.fullmatch(part)
        if found:
            return str(Path(*parts[:i], found["name"]))
    return str(path)


def environment_fault(exc: OSError) -> str | None:
    """One line naming the file, the cause and the fix of a disk or permission fault;
    None when ``exc`` is not one (then it is a bug and keeps its traceback)."""
    code = exc.errno
    if code not in FAULTS and "No space left on device" in str(exc):
        code = errno.ENOSPC  # pyarrow and others keep the errno only in the text
    if code not in FAULTS:
        return None
    cause, fix = FAULTS[code]
    where = f"cannot write {output_of(exc.filename)}" if exc.filename else "a write failed"
    full = ""
    if code in (errno.ENOSPC, errno.EDQUOT) and exc.filename:
        full = f": {_full_folder(output_of(exc.filename), code)}"
    return f"{where}: {cause} ({errno.errorcode[code]}){full}; {fix}."


def _full_folder(path: str, code: int) -> str:
    """Which folder is full: the one ``path`` was written to, and the mount point of its
    file system (the one that is full)."""
    folder = Path(os.path.abspath(path)).parent
    mount = folder
    while not mount.exists() and mount != mount.parent:
        mount = mount.parent
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    what = "has no space left" if code == errno.ENOSPC else "is over your quota"
    return f"the file system holding {folder}/ (mounted at {mount}) {what}"
