"""The config's checks at plan time (``rules/common.smk``): the schema, then the cross-field rules.

The schema (``schemas/config.schema.yaml``) checks every single field; :func:`check_schema`
reports the first violation as one line a user can act on: the key path, what is wrong, the
closest known key or value, and where every key is described (no schema dump, no traceback).
:func:`check_config` checks the rules that tie fields together. Package functions then take
typed values and trust them. Cheap and offline: no torch, no network.
"""

import math
import reprlib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from fmeval import branches
from fmeval.errors import ConfigError, closest, suggest

# --- the schema, one line per mistake --------------------------------------------------

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
SCHEMA_NAME = "schemas/config.schema.yaml"
HINT = f"see {SCHEMA_NAME} for every key"

_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 40, 40, 4, 3


@cache
def load_schema(path: str | Path = SCHEMA) -> dict:
    return yaml.safe_load(Path(path).read_text())


def key_path(parts: Iterable[str | int]) -> str:
    """``ct.noise.low.gain``, ``datasets.d.test_images[0].mask``; the top level is ``config``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def _type_names(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    return " or ".join(
        "null" if n == "null" else f"{'an' if n[0] in 'aeio' else 'a'} {n}" for n in names
    )


def describe(error: ValidationError) -> str:
    """One line for one schema violation: ``<key path>: <problem>[; did you mean ...]``."""
    parts = list(error.absolute_path)
    path = key_path(parts)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "additionalProperties" and schema.get("additionalProperties") is False:
        known = list(schema.get("properties", {}))
        extra = [k for k in value if k not in known]
        prefix = f"{path}." if parts else ""
        lines = [
            f"{key_path([*parts, k])}: unknown key{suggest(k, known, path=prefix)}" for k in extra
        ]
        return lines[0] + (f" (and {len(extra) - 1} more unknown key(s))" if len(extra) > 1 else "")
    if kind == "required":
        missing = [k for k in error.validator_value if k not in value]
        return f"{key_path([*parts, missing[0]])}: required key is missing"
    if kind == "enum":
        allowed = list(error.validator_value)
        near = closest(value, [str(a) for a in allowed]) if isinstance(value, str) else None
        hint = f"; did you mean `{near}`?" if near else ""
        return f"{path}: {_short.repr(value)} is not one of {', '.join(map(str, allowed))}{hint}"
    if kind == "type":
        got = type(value).__name__ if value is not None else "null"
        return (
            f"{path}: expected {_type_names(error.validator_value)}, got {got} {_short.repr(value)}"
        )
    if "propertyNames" in error.schema_path:
        return (
            f"{path}: the name {_short.repr(value)} is not allowed; use letters, digits, "
            "`_`, `.` and `-`, starting with a letter or digit"
        )
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{path}: {message}"


def check_schema(config: Mapping, *, schema: Mapping | None = None) -> None:
    """Raise a one-line ConfigError for the most relevant schema violation of ``config``."""
    schema = load_schema() if schema is None else schema
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"{describe(error)} ({HINT})")


# --- the rules that tie fields together ---------------------------------------------------


DAVIS_FRAME = (854, 480)  # width, height of a DAVIS 480p frame, for the hint's example grid


def resolution_hint(res: int, patch_sizes: Iterable[int]) -> str:
    """What to use instead of ``res``: multiples of every model's patch size (their lcm),
    and what a resolution means (the image height), with the grid it gives on a DAVIS frame."""
    sizes = sorted({int(p) for p in patch_sizes})
    step = math.lcm(*sizes)
    near = sorted(range(step, res + 3 * step, step), key=lambda m: (abs(m - res), -m))[:3]
    shown = sorted(near)
    example = f"{', '.join(map(str, shown[:-1]))} or {shown[-1]}"
    which = (
        f"a multiple of {step}"
        if len(sizes) == 1
        else f"a multiple of {step} (the least common multiple of the models' patch sizes "
        f"{', '.join(map(str, sizes))}, so that it fits every model)"
    )
    good = min(near, key=lambda m: (abs(m - res), m))  # the nearest, ties to the smaller
    width, height = DAVIS_FRAME
    grids = " and ".join(
        f"{good // p} x {int(width * good / (height * p))} for patch size {p}" for p in sizes
    )
    return (
        f"use {which}, e.g. {example}. A resolution is the height in pixels that images are "
        f"resized to (the width keeps the aspect ratio): on an {width} x {height} DAVIS frame, "
        f"{good} gives a patch grid of {grids}"
    )


def _resolutions_fit_patches(
    config: Mapping, resolutions, what: str = "resolution", models: Iterable[str] | None = None
) -> None:
    keys = list(config["models"] if models is None else models)
    sizes = [int(config["models"][key]["patch_size"]) for key in keys]
    for key, patch in zip(keys, sizes):
        for res in resolutions:
            if res % patch:
                raise ConfigError(
                    f"{what} {res} is not a multiple of the patch size {patch} of model "
                    f"{key!r}; {resolution_hint(res, sizes)}"
                )


def _thresholds_ordered(probe: Mapping) -> None:
    fg, bg = probe["fg_threshold"], probe["bg_threshold"]
    if not bg < fg:
        raise ConfigError(
            f"probe.bg_threshold ({bg}) must be below probe.fg_threshold ({fg}); "
            "the defaults are 0.01 and 0.99"
        )


def _ct_examples_in_grid(ct: Mapping) -> None:
    examples = ct.get("examples") or {}
    for key in ("sparse_views", "dense_views"):
        value = examples.get(key)
        if value is not None and value not in ct["views"]:
            raise ConfigError(
                f"ct.examples.{key} is {value}; it must be one of ct.views {list(ct['views'])}"
            )
    noise = examples.get("noise")
    if noise is not None and noise not in ct["noise"]:
        raise ConfigError(
            f"ct.examples.noise is {noise!r}; it must be one of ct.noise {list(ct['noise'])}"
        )


def _ct_lam_range_ordered(ct: Mapping) -> None:
    low, high = (ct.get("tune") or {}).get("lam_range", (1e-5, 0.1))
    if not low < high:
        raise ConfigError(
            f"ct.tune.lam_range is [{low}, {high}]; give the smallest TV weight first, e.g. "
            "[0.00001, 0.1]"
        )


def _video_consistent(config: Mapping) -> None:
    video = config.get("video") or {}
    models = video.get("models") or list(config["models"])
    unknown = sorted(set(models) - set(config["models"]))
    if unknown:
        raise ConfigError(
            f"video.models {unknown} are not keys of `models` ({sorted(config['models'])})"
        )
    # video.resolutions need not be multiples of the patch size (issue 25): the protocols'
    # frame transforms cut (dino, as DINO's loop) or round up (dinov3) to whole patches


def check_config(config: Mapping) -> None:
    """Raise one :class:`ConfigError` for the first cross-field rule that ``config`` breaks.

    ``config`` has passed the schema (with its defaults filled in).
    """
    _resolutions_fit_patches(config, config["resolutions"])
    _resolutions_fit_patches(
        config, config.get("classify", {}).get("resolutions") or [], "classify.resolutions entry"
    )
    branches.check_branches(config)  # issue 24: known names; datasets unique, present
    _thresholds_ordered(config["probe"])
    _ct_examples_in_grid(config["ct"])
    _ct_lam_range_ordered(config["ct"])  # issue 26
    _video_consistent(config)
