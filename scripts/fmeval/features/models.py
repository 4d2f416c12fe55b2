"""The model registry's entries and their plan-time checks (names only: nothing is built).

The names are checked against :mod:`fmeval.features.catalog` (timm is imported only when
a timm model is configured).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from fmeval.errors import ConfigError
from fmeval.features.catalog import (
    DINOV3_DOWNLOADS,
    check_hub_name,
    check_timm_name,
    default_repo,
)
from fmeval.features.families import BACKEND_RECORDS, DEFAULT_BACKEND
from fmeval.io.sources import local_path

BACKEND_NAMES = tuple(BACKEND_RECORDS)  # the records' names (fmeval.features.families)
DEFAULT_HUB_REPO = default_repo("dinov2_vits14")  # pinned (fmeval.features.catalog)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the ``models`` registry in the config; ``key`` is the ``{model}`` wildcard."""

    key: str
    backend: str
    name: str
    patch_size: int
    weights: str = "pretrained"
    repo: str | None = None

    @property
    def hub_repo(self) -> str:
        """torchhub: the configured repo, else the official one of the name's family."""
        return self.repo or default_repo(self.name)

    @property
    def is_random(self) -> bool:
        return self.weights == "random"

    @classmethod
    def from_config(cls, key: str, entry: Mapping) -> "ModelSpec":
        return cls(
            key=key,
            backend=entry.get("backend", DEFAULT_BACKEND),
            name=entry.get("name") or key,
            patch_size=int(entry["patch_size"]),
            weights=str(entry.get("weights", "pretrained")),
            repo=entry.get("repo"),
        )


def check_spec(spec: ModelSpec) -> None:
    """Raise a ConfigError naming the model and the fix if the spec cannot work."""
    if spec.backend not in BACKEND_NAMES:
        raise ConfigError(
            f"models.{spec.key}.backend: unknown backend {spec.backend!r}; use one of "
            f"{', '.join(BACKEND_NAMES)}"
        )
    if spec.backend == "torchhub":
        check_hub_name(spec.key, spec.name, spec.repo, spec.patch_size)
        if spec.name.startswith("dinov3_") and spec.weights == "pretrained":
            raise ConfigError(
                f"models.{spec.key}.weights: the official DINOv3 weights are gated and cannot be "
                f"fetched; request them at {DINOV3_DOWNLOADS}, then set `models.{spec.key}.weights`"
                " to the downloaded checkpoint's path"
            )
    else:
        check_timm_name(spec.key, spec.name, spec.patch_size)
    if spec.weights not in {"pretrained", "random"} and not local_path(spec.weights).is_file():
        raise ConfigError(
            f"model {spec.key!r}: weights file {spec.weights!r} does not exist; set "
            f"`models.{spec.key}.weights` to `pretrained`, `random` (tests only) or a checkpoint "
            "path"
        )


def check_models(models: Mapping) -> dict[str, ModelSpec]:
    """Every model entry of the config as a spec its backend can build (else a ConfigError)."""
    specs = {key: ModelSpec.from_config(key, entry) for key, entry in models.items()}
    for spec in specs.values():
        check_spec(spec)
    return specs
