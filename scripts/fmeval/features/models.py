"""The model registry's entries, checked without importing torch (cheap at DAG time)."""

from collections.abc import Mapping
from dataclasses import dataclass

from fmeval.errors import ConfigError
from fmeval.io.sources import local_path

BACKEND_NAMES = ("torchhub", "timm")
# Pinned: a torchhub `repo` runs that repo's hubconf.py, so the default names one commit.
DEFAULT_HUB_REPO = "facebookresearch/dinov2:12592a9bdfea0a6e4ee4767cd5a8d3195c0e3509"
OFFICIAL_HUB_REPOS = ("facebookresearch/dinov2", "facebookresearch/dinov3")
DINOV2_HUB_NAMES = tuple(f"dinov2_vit{size}14{reg}" for size in "sblg" for reg in ("", "_reg"))
DINOV3_HUB_NAMES = (
    "dinov3_vits16",
    "dinov3_vits16plus",
    "dinov3_vitb16",
    "dinov3_vitl16",
    "dinov3_vith16plus",
    "dinov3_vit7b16",
)
HUB_PATCH_SIZES = {**{n: 14 for n in DINOV2_HUB_NAMES}, **{n: 16 for n in DINOV3_HUB_NAMES}}


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
    def is_random(self) -> bool:
        return self.weights == "random"

    @classmethod
    def from_config(cls, key: str, entry: Mapping) -> "ModelSpec":
        return cls(
            key=key,
            backend=entry.get("backend", "torchhub"),
            name=entry.get("name") or key,
            patch_size=int(entry["patch_size"]),
            weights=str(entry.get("weights", "pretrained")),
            repo=entry.get("repo"),
        )


def check_spec(spec: ModelSpec) -> None:
    """Raise a ConfigError naming the model and the fix if the spec cannot work."""
    if spec.backend not in BACKEND_NAMES:
        raise ConfigError(
            f"model {spec.key!r} has unknown backend {spec.backend!r}; use one of "
            f"{list(BACKEND_NAMES)}"
        )
    if spec.backend == "torchhub":
        repo = (spec.repo or DEFAULT_HUB_REPO).split(":")[0]
        if repo in OFFICIAL_HUB_REPOS and spec.name not in HUB_PATCH_SIZES:
            raise ConfigError(
                f"unknown model {spec.name!r} (config key models.{spec.key}) for the torchhub "
                f"backend; known: {', '.join(sorted(HUB_PATCH_SIZES))}. Set `name` to one of them "
                "or use `backend: timm`."
            )
        if spec.name in HUB_PATCH_SIZES and HUB_PATCH_SIZES[spec.name] != spec.patch_size:
            raise ConfigError(
                f"model {spec.key!r}: {spec.name} has patch size {HUB_PATCH_SIZES[spec.name]}, "
                f"but `models.{spec.key}.patch_size` is {spec.patch_size}"
            )
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


def spec_of(models: Mapping, key: str) -> ModelSpec:
    """The spec for a ``{model}`` wildcard value; an unknown key is a ConfigError."""
    if key not in models:
        raise ConfigError(
            f"unknown model key {key!r}; the config's `models` registry has {sorted(models)}"
        )
    return ModelSpec.from_config(key, models[key])
