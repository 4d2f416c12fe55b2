"""Logging for rule scripts: everything to the rule's log, user errors also to stderr."""

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmeval.errors import FmevalError


def run_logged(log_path: str | None, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Call ``fn(**kwargs)`` with logging to ``log_path``.

    A :class:`FmevalError` becomes one clear ``ERROR:`` line on stderr and in the
    log, and exit status 1, without a traceback to wade through.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s", handlers=handlers, force=True
    )
    logging.captureWarnings(True)
    try:
        return fn(**kwargs)
    except FmevalError as exc:
        logging.getLogger("fmeval").error("%s", exc)
        sys.exit(1)
