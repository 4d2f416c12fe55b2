"""Logging for rule scripts: everything goes to the rule's log; a user error is one line.

Snakemake shows a failed job's log (the profile sets ``show-failed-logs``), so the
error is written once, to the log, and the user sees it once. Without a log path
the messages go to stderr instead.
"""

import logging
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
    except Exception:
        log.exception("unexpected error (a bug, please report it with this log)")
        raise
