"""The CT grid of the config (phantoms, views, noise levels, methods) as typed values.

Cheap: no torch, no deepinv, so that ``rules/common.smk`` can build it on every snakemake
start. The values are checked once, by the schema and :func:`fmeval.config.check_config`.
"""

from collections.abc import Mapping
from dataclasses import dataclass

TEST_PHANTOMS = 3200  # length of dival's ellipses test part
METHODS = ("fbp", "ram", "tv")
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
    tv_lam: float | str  # a number, or "tune" (fmeval.ct.tuning)
    tv_n_iter: int  # the most PGD steps
    tv_prox_iter: int
    tv_tol: float  # relative-change tolerance of PGD (0: all n_iter steps)
    fbp_window: str  # a window name, or "tune"
    fbp_frequency_scaling: float | str  # in (0, 1], or "tune"
    tune: dict  # the search on validation phantoms (n_validation, lam_range, ...)
    seed: int
    examples: tuple[int, int, str]  # (sparse views, dense views, noise level)


def _tunable(value) -> float | str:
    return value if value == "tune" else float(value)


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
        tv_lam=_tunable(ct["tv"].get("lam", "tune")),
        tv_n_iter=int(ct["tv"]["n_iter"]),
        tv_prox_iter=int(ct["tv"]["prox_iter"]),
        tv_tol=float(ct["tv"].get("tol", 1e-3)),
        fbp_window=str((ct.get("fbp") or {}).get("window", "tune")),
        fbp_frequency_scaling=_tunable((ct.get("fbp") or {}).get("frequency_scaling", "tune")),
        tune=dict(ct.get("tune") or {}),
        seed=int(ct["seed"]),
        examples=(
            int(examples.get("sparse_views") or min(views)),
            int(examples.get("dense_views") or max(views)),
            str(examples.get("noise") or next(iter(ct["noise"]))),
        ),
    )
