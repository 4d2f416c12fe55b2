"""The config's cross-field rules, checked once at plan time (``rules/common.smk``).

The schema (``schemas/config.schema.yaml``) checks every single field; this module checks
the rules that tie fields together. Package functions then take typed values and trust them.
Cheap and offline: no torch, no network.
"""

from collections.abc import Mapping
from pathlib import Path

from fmeval.errors import ConfigError

WEIGHT_WORDS = ("pretrained", "random")


def _resolutions_fit_patches(config: Mapping, resolutions, what: str = "resolution") -> None:
    for key, entry in config["models"].items():
        patch = int(entry["patch_size"])
        for res in resolutions:
            if res % patch:
                lower = res // patch * patch or patch
                raise ConfigError(
                    f"{what} {res} is not a multiple of the patch size {patch} of model "
                    f"{key!r}; use a multiple of {patch}, e.g. {lower} or {lower + patch}"
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


def _ram_weights_exist(ct: Mapping) -> None:
    weights = str(ct["ram"]["weights"])
    if weights not in WEIGHT_WORDS and not Path(weights).expanduser().is_file():
        raise ConfigError(
            f"ct.ram.weights file {weights!r} does not exist; set `ct.ram.weights` to "
            "`pretrained`, `random` (tests only) or the path of a RAM state dict "
            "(e.g. a downloaded ram.pth.tar)"
        )


def _classify_names_distinct(config: Mapping) -> None:
    for name in config.get("classify", {}).get("datasets", {}):
        if name in config["datasets"]:
            raise ConfigError(
                f"classify.datasets.{name}: the name {name!r} is also a segmentation dataset "
                f"(datasets.{name}); both would live in resources/datasets/{name}/, so rename one"
            )


def check_config(config: Mapping) -> None:
    """Raise one :class:`ConfigError` for the first cross-field rule that ``config`` breaks.

    ``config`` has passed the schema (with its defaults filled in).
    """
    _resolutions_fit_patches(config, config["resolutions"])
    _resolutions_fit_patches(
        config, config.get("classify", {}).get("resolutions") or [], "classify.resolutions entry"
    )
    _classify_names_distinct(config)
    _thresholds_ordered(config["probe"])
    _ct_examples_in_grid(config["ct"])
    _ram_weights_exist(config["ct"])
