"""The CT grid of the config (phantoms, views, noise levels, methods), checked at DAG time.

Cheap: no torch, no deepinv, so that ``rules/common.smk`` can call it on every
snakemake start. The rule scripts repeat the checks that matter, so the package
functions also give clear errors when called directly.
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fmeval.errors import ConfigError
from fmeval.io.sources import local_path

TEST_PHANTOMS = 3200  # length of dival's ellipses test part
METHODS = ("fbp", "ram", "tv")
RAM_WEIGHT_CHOICES = ("pretrained", "random")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class NoiseLevel:
    """A named Poisson-Gaussian noise level: ``y = gain * Poisson(z / gain) + N(0, sigma^2)``."""

    name: str
    gain: float
    sigma: float

    @property
    def is_clean(self) -> bool:
        return self.gain == 0 and self.sigma == 0


@dataclass(frozen=True)
class CTGrid:
    """The checked ``ct`` section of the config."""

    n_phantoms: int
    views: tuple[int, ...]
    noise: dict[str, NoiseLevel]
    methods: tuple[str, ...]
    ram_weights: str
    tv_lam: float
    tv_n_iter: int
    tv_prox_iter: int
    seed: int
    examples: tuple[int, int, str]  # (sparse views, dense views, noise level)


def check_n_phantoms(n: int) -> int:
    """1 to 3200 phantoms (dival's ellipses test part)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= TEST_PHANTOMS:
        raise ConfigError(
            f"ct.n_phantoms is {n!r}; it must be a whole number from 1 to {TEST_PHANTOMS} "
            f"(dival's ellipses test part has {TEST_PHANTOMS} phantoms)"
        )
    return n


def check_views(views: Sequence[int]) -> tuple[int, ...]:
    """Positive whole view counts, each listed once."""
    if not views:
        raise ConfigError("ct.views is empty; list at least one view count, e.g. [1000, 50]")
    for v in views:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(
                f"ct.views has {v!r}; every view count must be a whole number above 0, e.g. 50"
            )
    if len(set(views)) != len(views):
        raise ConfigError(f"ct.views {list(views)} repeats a value; list each view count once")
    return tuple(int(v) for v in views)


def check_noise(noise: Mapping[str, Mapping]) -> dict[str, NoiseLevel]:
    """Named noise levels with finite, non-negative gain and sigma."""
    if not noise:
        raise ConfigError(
            "ct.noise is empty; name at least one level, e.g. {clean: {gain: 0, sigma: 0}}"
        )
    out = {}
    for name, level in noise.items():
        if not NAME.match(str(name)):
            raise ConfigError(
                f"ct.noise level name {name!r} must be letters, digits, '_', '.' or '-'"
            )
        values = {}
        for key in ("gain", "sigma"):
            value = (level or {}).get(key, 0.0)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if isinstance(value, bool) or not math.isfinite(number) or number < 0:
                raise ConfigError(
                    f"ct.noise.{name}.{key} is {value!r}; it must be a finite number >= 0 "
                    "(0 switches that part of the noise off)"
                )
            values[key] = number
        out[str(name)] = NoiseLevel(str(name), values["gain"], values["sigma"])
    return out


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Known reconstruction methods, each listed once."""
    if not methods:
        raise ConfigError(f"ct.methods is empty; choose from {list(METHODS)}")
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown CT method {m!r} in ct.methods; choose from {list(METHODS)}")
    if len(set(methods)) != len(methods):
        raise ConfigError(f"ct.methods {list(methods)} repeats a method; list each once")
    return tuple(methods)


def check_ram_weights(weights: str) -> str:
    """``pretrained``, ``random`` or the path of an existing file."""
    weights = str(weights)
    if weights not in RAM_WEIGHT_CHOICES and not local_path(weights).is_file():
        raise ConfigError(
            f"ct.ram.weights file {weights!r} does not exist; set `ct.ram.weights` to "
            "`pretrained`, "
            "`random` (tests only) or the path of a RAM state dict (e.g. a downloaded ram.pth.tar)"
        )
    return weights


def check_ct(ct: Mapping) -> CTGrid:
    """The ``ct`` config section as a :class:`CTGrid`; anything wrong is one ConfigError."""
    views = check_views(list(ct["views"]))
    noise = check_noise(ct["noise"])
    methods = check_methods(list(ct["methods"]))
    tv = ct.get("tv", {})
    lam, n_iter, prox_iter = tv.get("lam", 0.01), tv.get("n_iter", 100), tv.get("prox_iter", 20)
    if not (isinstance(lam, int | float) and math.isfinite(lam) and lam >= 0):
        raise ConfigError(f"ct.tv.lam is {lam!r}; it must be a finite number >= 0")
    for key, value in (("n_iter", n_iter), ("prox_iter", prox_iter)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"ct.tv.{key} is {value!r}; it must be a whole number >= 1")
    examples = ct.get("examples") or {}
    sparse, dense = (
        examples.get("sparse_views") or min(views),
        examples.get("dense_views") or max(views),
    )
    for key, value in (("sparse_views", sparse), ("dense_views", dense)):
        if value not in views:
            raise ConfigError(
                f"ct.examples.{key} is {value}; it must be one of ct.views {list(views)}"
            )
    example_noise = examples.get("noise") or next(iter(noise))
    if example_noise not in noise:
        raise ConfigError(
            f"ct.examples.noise is {example_noise!r}; it must be one of ct.noise {list(noise)}"
        )
    return CTGrid(
        n_phantoms=check_n_phantoms(ct["n_phantoms"]),
        views=views,
        noise=noise,
        methods=methods,
        ram_weights=check_ram_weights(ct.get("ram", {}).get("weights", "pretrained")),
        tv_lam=float(lam),
        tv_n_iter=int(n_iter),
        tv_prox_iter=int(prox_iter),
        seed=int(ct.get("seed", 0)),
        examples=(int(sparse), int(dense), str(example_noise)),
    )
