"""The errors fmeval raises for bad input: each names the thing and the fix."""


class FmevalError(Exception):
    """Base class: a user-facing error whose message is the whole story."""


class ConfigError(FmevalError, ValueError):
    """A config value is wrong (unknown model, bad resolution, ...)."""


class SourceError(FmevalError, OSError):
    """A download source cannot be reached, read or verified."""


class DataError(FmevalError, ValueError):
    """Input data is malformed (corrupt archive, unpaired labels, no alpha, ...)."""
