"""A registry of backbone backends and a factory for the ``{model}`` wildcard (as timm does).

A model spec comes from ``config['models'][key]``. Each backend knows how to
``fetch`` what a compute job needs into the local cache (online, on the submit
host), how to ``build`` the network from that cache with no network, and how to
run it to get last-block patch tokens (without the final norm) and the CLS token.
"""

import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import torch

from fmeval.errors import ConfigError, SourceError
from fmeval.features.families import BACKEND_RECORDS, family_of, model_facts
from fmeval.features.hubcode import fetch_hub_code, fetch_timm_weights
from fmeval.features.model_sources import hub_checkpoint_url, offline_error, weights_naming
from fmeval.features.models import ModelSpec, check_spec
from fmeval.features.pooling import pooled_forward
from fmeval.io.archives import (
    DEFAULT_BOUNDS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    Bounds,
)
from fmeval.io.checkpoints import hub_checkpoint, load_weights, weights_identity
from fmeval.io.paths import read_fetch_manifest, write_fetch_manifest
from fmeval.io.sources import DEADLINE_S, local_path
from fmeval.runtime import cache_env


@dataclass(frozen=True)
class Backend:
    """How one family of models is fetched, built and run."""

    fetch: Callable[..., dict]  # (spec, cache_dir, *, deadline_s, bounds) -> record
    build: Callable[[ModelSpec, Mapping], torch.nn.Module]
    forward: Callable[[torch.nn.Module, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, backend: Backend) -> Backend:
    """Add a backend to the registry under ``name`` (the config's ``backend`` value), the
    implementation of the record of that name (fmeval.features.families.BACKEND_RECORDS)."""
    if name not in BACKEND_RECORDS:
        raise ValueError(f"backend {name!r} has no record in fmeval.features.families")
    BACKENDS[name] = backend
    return backend


def backend_of(spec: ModelSpec) -> Backend:
    check_spec(spec)
    return BACKENDS[spec.backend]


def _hub_code(spec: ModelSpec, cache_dir: Path, *, deadline_s: float, bounds: Bounds) -> Path:
    """The folder of the hub code: a local one, or ``owner/repo[:ref]`` downloaded by fmeval
    (torch.hub then runs that repo's hubconf.py: only name repos you trust)."""
    repo = spec.hub_repo
    if local_path(repo).is_dir():
        return local_path(repo).resolve()
    with cache_env(cache_dir):
        hub_dir = Path(torch.hub.get_dir())
    try:
        return fetch_hub_code(repo, hub_dir, deadline_s=deadline_s, bounds=bounds)
    except SourceError as exc:
        raise offline_error(spec, str(exc)) from None


def _hub_checkpoint(spec: ModelSpec, cache_dir: Path, *, deadline_s: float) -> Path:
    """The official checkpoint, downloaded by fmeval into the torch.hub cache (once)."""
    url = hub_checkpoint_url(spec)
    if url is None:
        raise SourceError(
            f"model {spec.key!r}: fmeval knows no download address for the {spec.name} "
            f"checkpoint; download it and set `models.{spec.key}.weights` to its path"
        )
    return hub_checkpoint(
        url,
        PurePosixPath(urllib.parse.urlsplit(url).path).name,
        cache_dir=cache_dir,
        what=f"the {spec.name} checkpoint",
        config_key=f"models.{spec.key}.weights",
        deadline_s=deadline_s,
    )


def _hub_fetch(
    spec: ModelSpec,
    cache_dir: Path,
    *,
    deadline_s: float = DEADLINE_S,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> dict:
    repo_dir = _hub_code(spec, cache_dir, deadline_s=deadline_s, bounds=bounds)
    weights_file = None
    if spec.weights == "pretrained":
        weights_file = _hub_checkpoint(spec, cache_dir, deadline_s=deadline_s)
    elif not spec.is_random:
        weights_file = local_path(spec.weights)
    if weights_file is not None:  # loads safely and fits: checked before any compute job
        _hub_build(spec, {"repo_dir": str(repo_dir), "weights_file": str(weights_file)})
    return {"repo_dir": str(repo_dir), **weights_identity(weights_file)}


def _hub_build(spec: ModelSpec, manifest: Mapping) -> torch.nn.Module:
    torch.manual_seed(0)  # random-init is reproducible
    model = torch.hub.load(manifest["repo_dir"], spec.name, source="local", pretrained=False)
    if manifest["weights_file"]:
        load_weights(model, manifest["weights_file"], **weights_naming(spec))
    return model


def _hub_forward(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ((patches, cls),) = model.get_intermediate_layers(
        x, n=1, reshape=True, return_class_token=True, norm=False
    )
    return patches, cls


register_backend("torchhub", Backend(_hub_fetch, _hub_build, _hub_forward))


# --- timm -----------------------------------------------------------------------------


def _timm_fetch(
    spec: ModelSpec,
    cache_dir: Path,
    *,
    deadline_s: float = DEADLINE_S,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> dict:
    """timm's weights file (safetensors, not an archive: ``bounds`` does not apply)."""
    import timm

    weights_file = None
    if spec.weights == "pretrained":
        cfg = timm.create_model(spec.name, pretrained=False).pretrained_cfg
        try:
            weights_file = fetch_timm_weights(cfg, Path(cache_dir), deadline_s=deadline_s)
        except SourceError as exc:
            raise offline_error(spec, str(exc)) from None
    elif not spec.is_random:
        weights_file = local_path(spec.weights)
    if weights_file is not None:  # loads safely and fits: checked before any compute job
        _timm_build(spec, {"weights_file": str(weights_file)})
    return {"repo_dir": None, **weights_identity(weights_file)}


def _timm_build(spec: ModelSpec, manifest: Mapping) -> torch.nn.Module:
    import timm

    torch.manual_seed(0)
    model = timm.create_model(spec.name, pretrained=False, dynamic_img_size=True)
    if manifest["weights_file"]:
        # timm's own checkpoint filter (names, position embeddings), as its loader applies
        convert = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
        load_weights(model, manifest["weights_file"], convert=convert, **weights_naming(spec))
    family = family_of("timm", spec.name)
    if (family is None or family.embedding == "cls") and getattr(model, "cls_token", None) is None:
        raise ConfigError(
            f"models.{spec.key}.name: timm model {spec.name!r} has no CLS token; use a ViT with "
            "one (README, *Supported backbones*)"
        )
    return model


def _timm_forward(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """timm's ViTs (``VisionTransformer``, DINOv2) and ``Eva`` (DINOv3) share
    ``forward_intermediates``: the prefix tokens are the CLS token then the registers, which
    are split off the patch grid."""
    ((patches, prefix),) = model.forward_intermediates(
        x,
        indices=1,
        return_prefix_tokens=True,
        norm=False,
        output_fmt="NCHW",
        intermediates_only=True,
    )
    return patches, prefix[:, 0]


register_backend("timm", Backend(_timm_fetch, _timm_build, _timm_forward))


# --- the factory --------------------------------------------------------------------


PATH_KEYS = ("repo_dir", "weights_file")


def fetch_model(
    spec: ModelSpec,
    *,
    cache_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    deadline_s: float = DEADLINE_S,
    max_archive_bytes: int = DEFAULT_MAX_BYTES,
    max_archive_members: int = DEFAULT_MAX_MEMBERS,
    max_archive_ratio: float = DEFAULT_MAX_RATIO,
) -> dict:
    """Seed the local cache with what ``spec`` needs and write its JSON manifest to ``manifest``.

    The downloads keep the config's ``downloads`` bounds: the deadline, and the archive
    bounds for downloaded hub code (a zip).

    Paths are stored relative to the working directory (the folder holding ``cache_dir``)
    when they lie in it or the config named them relatively (fmeval.io.paths), so that a
    fetched ``resources/`` can be copied to an offline machine or another checkout.
    """
    backend = backend_of(spec)
    bounds = Bounds(max_archive_bytes, max_archive_members, max_archive_ratio)
    fetched = backend.fetch(spec, Path(cache_dir), deadline_s=deadline_s, bounds=bounds)
    record = {**asdict(spec), **fetched, **model_facts(spec.backend, spec.name)}
    given = {"repo_dir": spec.repo, "weights_file": spec.weights}  # as the config named them
    write_fetch_manifest(record, PATH_KEYS, manifest=manifest, cache_dir=cache_dir, given=given)
    return record


def load_manifest(path: str | os.PathLike) -> tuple[ModelSpec, dict]:
    """The spec and fetch record written by :func:`fetch_model`, with absolute paths."""
    fix = "delete it and rerun fetch_model"
    record = read_fetch_manifest(path, PATH_KEYS, what="the model manifest", fix=fix)
    fields = ModelSpec.__dataclass_fields__
    return ModelSpec(**{k: record[k] for k in fields}), record


def create_backbone(spec: ModelSpec, manifest: Mapping) -> torch.nn.Module:
    """Build the network for ``spec`` from its fetched manifest, in eval mode, offline.

    The fetch record holds the paths of the hub code and the checkpoint, so nothing is
    downloaded here; the checkpoint is read safely (fmeval.io.checkpoints).
    """
    return BACKENDS[spec.backend].build(spec, manifest).eval()  # the spec was checked by fetch


def run_backbone(
    spec: ModelSpec, model: torch.nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Last-block patch tokens as (B, D, rows, cols) and image embeddings as (B, D): the CLS
    token, or the model's own pooling where its family has no CLS embedding (issue 28)."""
    family = family_of(spec.backend, spec.name)
    if family is not None and family.embedding != "cls":
        return pooled_forward(model, x)
    return BACKENDS[spec.backend].forward(model, x)
