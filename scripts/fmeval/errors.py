"""The errors fmeval raises for bad input: each names the thing and the fix."""

import difflib
from collections.abc import Iterable, Sequence


class FmevalError(Exception):
    """Base class: a user-facing error whose message is the whole story."""


class ConfigError(FmevalError, ValueError):
    """A config value is wrong (unknown model, bad resolution, ...)."""


class SourceError(FmevalError, OSError):
    """A download source cannot be reached, read or verified."""


class DataError(FmevalError, ValueError):
    """Input data is malformed (corrupt archive, unpaired labels, no alpha, ...)."""


# The did-you-mean wording of one-line config errors (fmeval.config, fmeval.branches).
def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word nearest ``word`` (difflib), or None when nothing is close."""
    found = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return found[0] if found else None


def suggest(word: str, known: Sequence[str], *, path: str = "") -> str:
    """``; did you mean `x`?`` or ``; known: a, b, c``."""
    near = closest(word, known)
    if near is not None:
        return f"; did you mean `{path + near}`?"
    return f"; known: {', '.join(map(str, known))}" if known else ""
