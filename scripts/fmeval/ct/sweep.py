"""The CT grid of the config (phantoms, views, noise levels, methods) as typed values.

Cheap: no torch, no deepinv, so that ``rules/common.smk`` can build it on every snakemake
start. The values are checked once, by the schema and :func:`fmeval.config.check_config`.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from fmeval.ct.methods import METHODS as METHOD_SPECS
from fmeval.ct.methods import method_options

TEST_PHANTOMS = 3200  # length of dival's ellipses test part
METHODS = tuple(METHOD_SPECS)  # the schema's ct.methods enum (tests/unit/ct/test_methods.py)
RAM_WEIGHT_CHOICES = ("pretrained", "random")


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
    # every method's options ({method: {option: value}}; a value may be "tune"), typed by
    # its record (fmeval.ct.methods): tv's lam, n_iter, prox_iter, tol; fbp's window, ...
    options: dict[str, dict]
    tune: dict  # the search on validation phantoms (n_validation, lam_range, ...)
    seed: int
    examples: tuple[int, int, str]  # (sparse views, dense views, noise level)


def ct_grid(ct: Mapping) -> CTGrid:
    """The ``ct`` section of a schema-validated config (defaults filled in) as a :class:`CTGrid`.

    The schema checks each field and :func:`fmeval.config.check_config` the cross-field rules;
    this only gives the values their types. The example cells default to the sparsest and the
    densest view count at the first noise level.
    """
    views = tuple(int(v) for v in ct["views"])
    examples = ct.get("examples") or {}
    return CTGrid(
        n_phantoms=int(ct["n_phantoms"]),
        views=views,
        noise={
            str(name): NoiseLevel(str(name), float(level["gain"]), float(level["sigma"]))
            for name, level in ct["noise"].items()
        },
        methods=tuple(ct["methods"]),
        ram_weights=str(ct["ram"]["weights"]),
        options={name: method_options(name, ct) for name in METHODS},
        tune=dict(ct.get("tune") or {}),
        seed=int(ct["seed"]),
        examples=(
            int(examples.get("sparse_views") or min(views)),
            int(examples.get("dense_views") or max(views)),
            str(examples.get("noise") or next(iter(ct["noise"]))),
        ),
    )
