"""Random re-spellings of a config that mean the same experiment (issue 22), for tests.

:func:`respell` walks a config beside its schema and, at random: shuffles the keys of every
mapping, writes an integral number as an int or a float (``1`` / ``1.0``; the schema's
``integer`` accepts ``10.0`` too), drops a key whose value is the schema's default and
writes out a default that was left out. :func:`sweep_values` gives other values for the
execution settings (what must rerun nothing).
"""

import copy
import random
from collections.abc import Mapping
from typing import Any

from fmeval.canon import resolve


def _integral(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == int(value)


def respell(config: Mapping, schema: Mapping, rng: random.Random) -> dict:
    """A random spelling of ``config`` (validated or not) with the same meaning."""
    return _respell(copy.deepcopy(dict(config)), schema, schema, rng)


def _respell(value: Any, schema: Mapping, root: Mapping, rng: random.Random) -> Any:
    schema = resolve(schema, root)
    if isinstance(value, Mapping):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", {})
        out = {}
        for key, sub in props.items():
            sub = resolve(sub, root)
            if key not in value and "default" in sub and rng.random() < 0.5:
                out[key] = copy.deepcopy(sub["default"])  # a default written out
        for key, item in value.items():
            sub = resolve(props.get(key, extra if isinstance(extra, Mapping) else {}), root)
            if "default" in sub and item == sub["default"] and rng.random() < 0.5:
                continue  # a default left out
            out[key] = _respell(item, sub, root, rng)
        keys = list(out)
        rng.shuffle(keys)
        return {k: out[k] for k in keys}
    if isinstance(value, list):
        return [_respell(v, schema.get("items", {}), root, rng) for v in value]
    if _integral(value) and abs(value) < 2**53:
        return rng.choice([int(value), float(value)])
    return value


def sweep_values(config: Mapping, schema: Mapping, paths, variant: int) -> dict:
    """``config`` with every execution setting at ``paths`` (dotted) set to another valid
    value (``variant`` picks among several: enum values in turn, numbers scaled)."""
    config = copy.deepcopy(dict(config))
    for path in paths:
        *parents, last = path.split(".")
        node, sub = config, schema
        for key in parents:
            node = node.setdefault(key, {})
            sub = resolve(resolve(sub, schema)["properties"][key], schema)
        sub = resolve(resolve(sub, schema)["properties"][last], schema)
        node[last] = _other(node.get(last, sub.get("default")), sub, schema, variant)
    return config


def _other(value: Any, schema: Mapping, root: Mapping, variant: int) -> Any:
    schema = resolve(schema, root)
    if "enum" in schema:
        others = [v for v in schema["enum"] if v != value]
        return others[variant % len(others)]
    if "properties" in schema:
        value = dict(value or {})
        for key, sub in schema["properties"].items():
            sub = resolve(sub, root)
            value[key] = _other(value.get(key, sub.get("default")), sub, root, variant)
        return value
    kinds = schema.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or [])
    base = value if isinstance(value, int | float) and not isinstance(value, bool) else 500
    if "integer" in kinds:
        return int(base) + 1 + variant
    if "number" in kinds:
        return float(base) * 2 + 1 + variant
    raise ValueError(f"no other value for the execution setting {schema}")
