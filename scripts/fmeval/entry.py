"""The one rule entry: every rule's job calls the package function :data:`ENTRIES` names.

``scripts/run_rule.py`` (every rule's ``script:``) is ``run(snakemake)``. The function gets
its arguments BY NAME from the job (house rule: same names on both sides):

- the rule's named ``input``, ``output`` and ``params`` (a name in two of them is an error),
  then its ``wildcards``, ``threads`` and ``log`` (the first log file);
- the execution settings it takes by name (:data:`fmeval.canon.EXECUTION_SETTINGS`, read
  from ``snakemake.config``, never params, so changing them reruns nothing): ``device``,
  ``batch_size``, ``memory_mb`` (``probe.memory_mb``) and each key of ``downloads``;
- ``inputs`` / ``outputs``: every named input / output as one mapping.

Values follow the parameter's annotation: ``int``/``float`` from a wildcard's text, a
dataclass from a mapping, a list of paths as a plain list. A param passes as it is (``None``
and ``[]`` too); an input that is absent or empty (an input function that returned ``[]``)
takes the parameter's default, else ``None`` where the annotation allows it.
A param the function does not take, or a parameter nobody gives, is an error naming the
rule and the name (a renamed argument cannot pass silently).
"""

import dataclasses
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fmeval.canon import EXECUTION_SETTINGS
from fmeval.errors import FmevalError

# rule -> "module:function", one line per rule: the shared rules here, each branch's in its
# package's entries.ENTRIES (fmeval.branches.Branch.module), so a new branch adds none here
SHARED_ENTRIES = {
    "build_report": "fmeval.report.render:build_report",
    "download_dataset": "fmeval.features.datasets:download_dataset",
    "extract_features": "fmeval.features.extraction:run_extraction",
    "extract_features_variant": "fmeval.features.extraction:run_extraction",
    "extract_feature_shard": "fmeval.features.shards:run_shard",
    "fetch_model": "fmeval.features.backbones:fetch_model",
}


def _all_entries() -> dict[str, str]:
    from fmeval.branches import BRANCHES

    entries = dict(SHARED_ENTRIES)
    for branch in BRANCHES:
        entries.update(importlib.import_module(f"{branch.module}.entries").ENTRIES)
    return entries


ENTRIES = _all_entries()


class EntryError(FmevalError):
    """A rule and its function do not fit: the rule, the name and the fix, in one line."""


def function_of(rule: str) -> Callable[..., Any]:
    """The package function of ``rule`` (imported now)."""
    if rule not in ENTRIES:
        raise EntryError(f"rule {rule}: no function; add `{rule!r}: 'module:function'` to ENTRIES")
    module, _, name = ENTRIES[rule].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise EntryError(f"rule {rule}: {ENTRIES[rule]} cannot be loaded ({err})") from err


def settings(config: Mapping) -> dict[str, Any]:
    """The execution settings by the name a function takes them: a setting's last key, or
    each key of a setting that is a mapping (``downloads``)."""
    out: dict[str, Any] = {}
    for path in EXECUTION_SETTINGS:
        node: Any = config
        for key in path.split("."):
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            out.update(node)
        else:
            out[path.split(".")[-1]] = node
    return out


def _named(namespace: Any) -> dict[str, Any]:
    """A snakemake Namedlist's named items (plain mappings pass through)."""
    if isinstance(namespace, Mapping):
        return dict(namespace)
    return dict(namespace.items()) if namespace is not None else {}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _absent(value: Any) -> bool:
    """An input that an input function left out (``[]`` or ``None``)."""
    return value is None or (isinstance(value, list) and not value)


def _convert(value: Any, annotation: Any) -> Any:
    """``value`` as ``annotation`` asks: a number from text, a dataclass from a mapping."""
    if value is None:
        return None
    kinds = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for kind in kinds:
        if kind in (int, float) and isinstance(value, str):
            return kind(value)
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            return kind(**value)
    return value


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _allows_none(annotation: Any) -> bool:
    return annotation is None or (
        _is_union(annotation) and type(None) in typing.get_args(annotation)
    )


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an annotation that names what only type checkers import
        return {}


def bind(rule: str, fn: Callable[..., Any], job: Any) -> dict[str, Any]:
    """The keyword arguments of ``fn`` for ``job`` (a snakemake object, or one alike)."""
    inputs, outputs = _named(job.input), _named(job.output)
    params = _named(job.params)
    given: dict[str, tuple[str, Any]] = {}
    for where, names in (("input", inputs), ("output", outputs), ("params", params)):
        for name, value in names.items():
            if name in given:
                raise EntryError(
                    f"rule {rule}: {name!r} is both an {given[name][0]} and a {where} name; "
                    "rename one of them"
                )
            given[name] = (where, _plain(value))
    rest = {
        **settings(job.config or {}),
        **_named(job.wildcards),
        "threads": job.threads,
        "log": job.log[0] if job.log else None,
        "inputs": {k: _plain(v) for k, v in inputs.items()},
        "outputs": {k: _plain(v) for k, v in outputs.items()},
    }
    where = ENTRIES.get(rule, getattr(fn, "__name__", "the function"))
    signature = inspect.signature(fn)
    unused = set(params) - set(signature.parameters)
    if unused and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        raise EntryError(
            f"rule {rule}: {where} takes no argument {', '.join(sorted(unused))}; "
            "rename the param or the function's argument"
        )
    hints = _hints(fn)
    kwargs = {}
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        if name in given and not (given[name][0] == "input" and _absent(given[name][1])):
            value = given[name][1]  # a param passes as it is, None and [] too
        elif name in rest:
            value = rest[name]
        elif parameter.default is not parameter.empty:
            continue  # an absent or empty input (an input function gave []): the default
        elif _allows_none(hints.get(name, parameter.annotation)):
            value = None
        else:
            raise EntryError(
                f"rule {rule}: {where} needs {name!r}, which the rule gives as no "
                "input, output, param or wildcard; add it to the rule"
            )
        kwargs[name] = _convert(value, hints.get(name, parameter.annotation))
    return kwargs


def check_rule(rule: str, *, names: Iterable[str], params: Iterable[str] = ()) -> list[str]:
    """What does not fit between ``rule`` and its function, at plan time (no job needed):
    ``names`` are the rule's input, output, params and wildcard names, ``params`` its param
    names. [] when all fits."""
    try:
        fn = function_of(rule)
    except EntryError as err:
        return [str(err)]
    parameters = inspect.signature(fn).parameters
    known = {*names, *params, "threads", "log", "inputs", "outputs"}
    known |= {path.split(".")[-1] for path in EXECUTION_SETTINGS}
    missing = [
        f"rule {rule}: {ENTRIES[rule]} needs {name!r}, which the rule does not give"
        for name, p in parameters.items()
        if p.default is p.empty
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and name not in known
    ]
    unused = [
        f"rule {rule}: {ENTRIES[rule]} takes no argument {name!r} (a param of the rule)"
        for name in params
        if name not in parameters
    ]
    return missing + unused


def run(job: Any) -> Any:
    """Run the function of ``job.rule`` on ``job``, logged (fmeval.logs.run_logged)."""
    from fmeval.logs import run_logged

    log = job.log[0] if job.log else None

    def call() -> Any:
        fn = function_of(job.rule)
        return fn(**bind(job.rule, fn, job))

    return run_logged(log, call, threads=job.threads)
