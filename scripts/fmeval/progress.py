"""Progress lines for long jobs: done/total, the rate and an ETA, at most every 30 s.

A long job (extraction, k-NN, cross-validation, reconstruction) logs through one
:class:`Progress`, so a user can ``tail -f`` its log and see where it is::

    ... fmeval INFO: extract: 1,024/10,000 images (10.2%), 31.4 images/s, ETA 4 min 46 s

The first and the last update are always logged; in between, a line at most every
``every`` seconds (30 by default), so a log stays readable however small the steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1 min 15 s"``; ``4000`` -> ``"1 h 6 min"``; ``3.2`` -> ``"3 s"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    """Counts work done out of ``total`` and logs a progress line at most every ``every`` s.

    ``label`` names the work (``"extract"``), ``unit`` what is counted (``"images"``).
    ``clock`` is injectable for tests. :attr:`rate` is the mean rate since the start,
    in units per second (what the cost table reports).
    """

    def __init__(
        self,
        total: int,
        *,
        label: str,
        unit: str = "items",
        log: logging.Logger | None = None,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = int(total)
        self.label = label
        self.unit = unit
        self.log = log or logging.getLogger("fmeval")
        self.every = float(every)
        self.clock = clock
        self.start = clock()
        self.done = 0
        self._last_logged: float | None = None

    @property
    def elapsed(self) -> float:
        return self.clock() - self.start

    @property
    def rate(self) -> float:
        """Units per second since the start (0 before any time has passed)."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The progress line as it is logged now."""
        total = max(self.total, 1)
        text = (
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit} "
            f"({100.0 * self.done / total:.1f}%), {self.rate:,.1f} {self.unit}/s"
        )
        remaining = self.total - self.done
        if remaining > 0 and self.rate > 0:
            text += f", ETA {format_duration(remaining / self.rate)}"
        elif remaining <= 0:
            text += f", done in {format_duration(self.elapsed)}"
        return text

    def update(self, n: int = 1) -> None:
        """Count ``n`` more done; log a line if due (the first, the last, or ``every`` s on)."""
        self.done += int(n)
        now = self.clock()
        first = self._last_logged is None
        last = self.done >= self.total
        if first or last or now - self._last_logged >= self.every:
            self.log.info("%s", self.line())
            self._last_logged = now
