"""The ``video`` section of the config as typed values (cheap: no torch).

The schema checks each field and :func:`fmeval.config.check_config` the cross-field rules
(models known, resolutions fit the patches, names apart from the segmentation datasets);
this only gives the values their types, fills in the top-level models and resolutions, and
resolves the propagation protocol (a preset with the config's overrides, checked: a value
that makes no sense is a ConfigError at plan time).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from fmeval.specs import section_of
from fmeval.video.methods import METHODS as METHOD_SPECS
from fmeval.video.protocol import DEFAULT, Protocol, resolve

METHODS = tuple(METHOD_SPECS)  # the schema's video.methods enum (tests/unit/video/test_methods.py)


@dataclass(frozen=True)
class VideoPlan:
    """The video sweep: datasets x models x resolutions x methods, and each method's options."""

    datasets: dict[str, dict]
    models: tuple[str, ...]
    resolutions: tuple[int, ...]
    methods: tuple[str, ...]
    options: dict[str, dict]  # per method; propagate's is the protocol's values
    protocol: Protocol
    bound_th: float
    strip_frames: int


def video_plan(config: Mapping) -> VideoPlan:
    """The video sweep of a schema-validated config (defaults filled in)."""
    video = config.get("video") or {}
    methods = tuple(video.get("methods") or METHODS)
    protocol = resolve(video.get("protocol") or DEFAULT, video.get("propagate"))
    options = {
        # a method that follows the protocol takes all of its values (overrides included)
        m: protocol.as_params()
        if METHOD_SPECS[m].protocol
        else METHOD_SPECS[m].options_from(section_of(config, METHOD_SPECS[m].section))
        for m in methods
    }
    return VideoPlan(
        datasets={name: dict(entry) for name, entry in (video.get("datasets") or {}).items()},
        models=tuple(video.get("models") or config["models"]),
        resolutions=tuple(int(r) for r in (video.get("resolutions") or config["resolutions"])),
        methods=methods,
        options=options,
        protocol=protocol,
        bound_th=float(video["bound_th"]),
        strip_frames=int(video["strip_frames"]),
    )
