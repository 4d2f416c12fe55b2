"""Cheap checks of the segmentation config at DAG time (no torch, no sklearn)."""

import math
from collections.abc import Sequence

from fmeval.errors import ConfigError


def check_cs(cs: Sequence[float] | None) -> list[float]:
    """The C grid as floats; empty, non-numeric, non-positive or repeated values are a
    ConfigError.
    """
    if cs is None or len(cs) == 0:
        raise ConfigError("probe.cs is empty; give at least one positive C, e.g. [0.01, 0.1, 1.0]")
    out = []
    for c in cs:
        try:
            value = float(c)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(
                f"probe.cs has {c!r}; every C must be a positive finite number, e.g. [0.01, 0.1, "
                "1.0]"
            )
        out.append(value)
    if len(set(out)) != len(out):
        raise ConfigError(f"probe.cs {list(cs)} repeats a value; list each C once")
    return out


def check_thresholds(*, fg_threshold: float, bg_threshold: float) -> None:
    """Background patches are below ``bg_threshold``, foreground ones above ``fg_threshold``."""
    if not 0.0 <= bg_threshold < fg_threshold <= 1.0:
        raise ConfigError(
            f"probe.bg_threshold ({bg_threshold}) must be below probe.fg_threshold "
            f"({fg_threshold}), "
            "both within [0, 1]; the defaults are 0.01 and 0.99"
        )
