"""One spelling per experiment: the canonical form of the config and of every rule's params.

Snakemake reruns a job when the ``repr`` of one of its params changes, so two spellings of
the same experiment (keys in another order, ``1`` for ``1.0``, a default written out or
left out, ``x`` for ``[x]``) must give the same params. Two passes make sure of it
(``rules/common.smk`` and the end of the ``Snakefile``):

1. :func:`canonical_config` rewrites the validated config once, guided by the schema:
   every default filled in, numbers typed by the schema (``number``: float, ``integer``:
   int), a single value made a list where the schema allows both, and every mapping's keys
   sorted. Everything computed from the config (plans, params) then starts canonical.
2. :func:`canonical` is applied to the value of every param of every rule (callables
   wrapped by :func:`canonical_param`): mappings with sorted keys, recursively, whatever
   code built them.

So a new param needs no work of its own: a value from the config is canonical, and so is
a mapping built from it. Execution settings (:data:`EXECUTION_SETTINGS`) are never params:
jobs read them from ``snakemake.config`` (changing them reruns nothing).
"""

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any

# Where and how fast jobs run, not what they compute (dotted config paths): jobs read them
# from the config, never from params, and the report's copy of the config leaves them out.
# Add a new execution setting here (tests/workflow/test_spelling.py sweeps every one).
EXECUTION_SETTINGS = ("device", "batch_size", "downloads", "probe.memory_mb")

_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (recursively, through lists and tuples)."""
    if isinstance(value, Mapping):
        return {k: canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return type(value)(canonical(v) for v in value)
    return value


def canonical_param(value: Any) -> Any:
    """A rule's param value made canonical; a callable (an input function) is wrapped so that
    its result is (``functools.wraps`` keeps the signature Snakemake inspects)."""
    if not callable(value):
        return canonical(value)

    @functools.wraps(value)
    def wrapper(*args, **kwargs):
        return canonical(value(*args, **kwargs))

    return wrapper


def without_execution_settings(config: Mapping) -> dict:
    """``config`` without the :data:`EXECUTION_SETTINGS` (what results depend on)."""
    config = copy.deepcopy(dict(config))
    for path in EXECUTION_SETTINGS:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return config


# --- the config, guided by its schema -----------------------------------------------------


def resolve(schema: Mapping, root: Mapping) -> dict:
    """``schema`` with its local ``$ref`` and ``allOf`` merged in (one level of keywords)."""
    out = dict(schema)
    ref = out.pop("$ref", None)
    if ref is not None:
        node = root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        out = {**resolve(node, root), **out}
    for sub in out.pop("allOf", []):
        sub = resolve(sub, root)
        props = {**sub.get("properties", {}), **out.get("properties", {})}
        out = {**sub, **out, "properties": props}
    return out


def _types(schema: Mapping) -> set[str]:
    kind = schema.get("type")
    return set([kind] if isinstance(kind, str) else kind or [])


def _matches(value: Any, kinds: set[str]) -> bool:
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int | float):
        return bool(kinds & {"number", "integer"})
    if value is None:
        return "null" in kinds
    return any(isinstance(value, _JSON_TYPES[k]) for k in kinds if k in _JSON_TYPES)


def _keyword(value: Any, branch: Mapping) -> bool:
    """True when ``value`` is one of a branch's ``enum``/``const`` words (e.g. ``all``)."""
    return value in branch.get("enum", []) or ("const" in branch and value == branch["const"])


def _branch(value: Any, schema: dict, root: Mapping) -> dict:
    """For ``anyOf``/``oneOf``: the branch that ``value`` takes. A single value where a list
    of such values is allowed too takes the list's branch (``x`` means ``[x]``), unless it is
    a keyword of its own branch (an ``enum`` or ``const`` such as ``all``)."""
    branches = [resolve(b, root) for b in schema.get("anyOf", []) + schema.get("oneOf", [])]
    typed = [b for b in branches if _types(b)]
    own = [b for b in typed if _matches(value, _types(b))]
    lists = [
        b
        for b in typed
        if "array" in _types(b)
        and not isinstance(value, list)
        and _matches(value, _types(resolve(b.get("items", {}), root)))
    ]
    if lists and not any(_keyword(value, b) for b in own):
        return {**schema, **lists[0], "type": "array"}
    return {**schema, **own[0]} if own else schema


def _canon(value: Any, schema: Mapping, root: Mapping) -> Any:
    schema = resolve(schema, root)
    if "anyOf" in schema or "oneOf" in schema:
        schema = _branch(value, schema, root)
    kinds = _types(schema)
    single = not isinstance(value, list | type(None)) and not _keyword(value, schema)
    if "array" in kinds and single:
        if _matches(value, _types(resolve(schema.get("items", {}), root))):
            value, kinds = [value], {"array"}  # `x` where `[x]` is allowed too: `[x]`
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if "integer" in kinds and "number" not in kinds and float(value).is_integer():
            return int(value)
        if "number" in kinds and "integer" not in kinds:
            return float(value)
        return value
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_canon(v, items, root) for v in value]
    if isinstance(value, Mapping):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", {})
        out = dict(value)
        for key, sub in props.items():
            sub = resolve(sub, root)
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
        return {
            k: _canon(out[k], props.get(k, extra if isinstance(extra, Mapping) else {}), root)
            for k in sorted(out, key=str)
        }
    return value


def canonical_config(config: Mapping, schema: Mapping) -> dict:
    """The validated ``config`` in its one canonical spelling (see the module docstring)."""
    canon = _canon(config, schema, schema)
    for key, entry in canon.get("models", {}).items():  # a model's name defaults to its key
        if isinstance(entry, dict) and not entry.get("name"):
            canon["models"][key] = dict(sorted({**entry, "name": key}.items()))
    return canon


def canonicalise_rules(rules, wrap: Callable[[Any], Any] = canonical_param) -> None:
    """Replace every param of every rule (Snakemake ``Rule`` objects) by ``wrap`` of it."""
    for rule in rules:
        params = rule.params
        for name, (index, end) in list(params._names.items()):
            if end is None:
                params[index] = wrap(params[index])
                setattr(params, name, params[index])
        for index in range(len(params)):  # unnamed params
            if all(i != index for i, _ in params._names.values()):
                params[index] = wrap(params[index])
