"""Method records as data (the idea of timm's ``default_cfgs``): each entry carries its own facts.

A branch keeps its records in its own package (``fmeval.ct.methods``,
``fmeval.video.methods``, ``fmeval.classify.methods``); the rules (``rules/*.smk``), the
plan-time checks, the implementations' dispatch and the README's tables read them instead of
repeating method names. This module holds what every branch's records share: an
:class:`Option` (name, default, whether ``tune`` may leave it to a search) and a
:class:`MethodSpec` (name, one-line description, GPU or not, its options, the config section
that sets them). Plain data: no torch, no numpy (``rules/common.smk`` imports it on every
snakemake start; tests/unit/test_specs.py checks it stays so).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

TUNE = "tune"  # a config value that leaves an option to a search (fmeval.ct.tuning)


@dataclass(frozen=True)
class Option:
    """One option of a method: its config key, default (the schema's) and value type."""

    name: str
    default: object
    kind: Callable = str  # int, float, str, bool: what a config value becomes
    tunable: bool = False  # the value may be "tune" (a search picks it per cell)
    search: tuple[str, ...] = ()  # the keys of the search section it reads when tuned

    def value(self, given: object) -> object:
        """``given`` (None: the default) as the option's type; ``tune`` stays ``tune``."""
        value = self.default if given is None else given
        if value is None or (self.tunable and value == TUNE):
            return value
        return self.kind(value)


@dataclass(frozen=True)
class MethodSpec:
    """One method of a branch: what the rules, the checks and the README need to know."""

    name: str  # the {method} wildcard value and the config's name for it
    description: str  # one line, for the README's table and error messages
    gpu: bool  # whether its rule holds a GPU (resources: gpu=1)
    options: tuple[Option, ...] = ()
    section: str = ""  # the config key whose mapping sets the options, e.g. "ct.tv"

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    @property
    def defaults(self) -> dict:
        return {o.name: o.default for o in self.options}

    @property
    def tunable(self) -> tuple[str, ...]:
        """The options a config may leave to tuning (``tune``)."""
        return tuple(o.name for o in self.options if o.tunable)

    def options_from(self, given: Mapping | None) -> dict:
        """The method's options from its config section (defaults where it gives none)."""
        given = given or {}
        return {o.name: o.value(given.get(o.name)) for o in self.options}


def registry(specs: Iterable[MethodSpec]) -> dict[str, MethodSpec]:
    """``{name: spec}``, refusing two records of one name."""
    out: dict[str, MethodSpec] = {}
    for spec in specs:
        if spec.name in out:
            raise ValueError(f"two method records are named {spec.name!r}")
        out[spec.name] = spec
    return out


def section_of(config: Mapping, dotted: str) -> Mapping:
    """The mapping at ``dotted`` (``"ct.tv"``) of a config; {} where a key is missing."""
    node: object = config
    for key in dotted.split(".") if dotted else ():
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def options_text(spec: MethodSpec, none: str = "–") -> str:
    """``lam = `tune`*, n_iter = `100``` (``*``: may be tuned; ``none`` shows a None default)."""
    if not spec.options:
        return "–"
    return ", ".join(
        f"{o.name} = {none if o.default is None else f'`{o.default}`'}{'*' if o.tunable else ''}"
        for o in spec.options
    )


def markdown_table(
    specs: Iterable[MethodSpec],
    extra: Mapping[str, Callable[[MethodSpec], str]] | None = None,
    *,
    none: str = "–",
) -> str:
    """A README table: method, GPU, options with their defaults (``*``: may be ``tune``d),
    ``extra`` columns (header -> the cell of a spec), then the description."""
    specs, extra = list(specs), dict(extra or {})
    options = "options (default" + ("; * may be `tune`d)" if any(s.tunable for s in specs) else ")")
    header = ["method", "GPU", options, *extra, "what it is"]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for s in specs:
        cells = [f"`{s.name}`", "yes" if s.gpu else "no", options_text(s, none)]
        cells += [cell(s) for cell in extra.values()] + [s.description]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
