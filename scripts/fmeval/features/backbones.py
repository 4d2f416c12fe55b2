"""A registry of backbone backends and a factory for the ``{model}`` wildcard (as timm does).

A model spec comes from ``config['models'][key]``. Each backend knows how to
``fetch`` what a compute job needs into the local cache (online, on the submit
host), how to ``build`` the network from that cache with no network, and how to
run it to get last-block patch tokens (without the final norm) and the CLS token.
"""

import contextlib
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from fmeval.errors import ConfigError, SourceError
from fmeval.features.models import ModelSpec, check_spec
from fmeval.io.atomic import atomic_path
from fmeval.io.checkpoints import RANDOM_INIT
from fmeval.io.sources import TIMEOUT_S, local_path, sha256_file
from fmeval.runtime import cache_env


@dataclass(frozen=True)
class Backend:
    """How one family of models is fetched, built and run."""

    fetch: Callable[[ModelSpec, Path], dict]
    build: Callable[[ModelSpec, Mapping], torch.nn.Module]
    forward: Callable[[torch.nn.Module, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, backend: Backend) -> Backend:
    """Add a backend to the registry under ``name`` (the config's ``backend`` value)."""
    BACKENDS[name] = backend
    return backend


def backend_of(spec: ModelSpec) -> Backend:
    check_spec(spec)
    return BACKENDS[spec.backend]


def weights_record(spec: ModelSpec, weights_file: Path | None) -> dict:
    if spec.is_random:
        return {"weights_file": None, "weights_id": RANDOM_INIT}
    assert weights_file is not None
    return {
        "weights_file": str(Path(weights_file).resolve()),
        "weights_id": f"sha256:{sha256_file(weights_file)}",
    }


def _weights_hint(spec: ModelSpec) -> str:
    """Where the official checkpoint of ``spec`` lives, for the offline hint."""
    if spec.name.startswith("dinov2_"):
        arch = spec.name.removesuffix("_reg")
        stem = spec.name.replace("_reg", "_reg4")
        return f" (e.g. https://dl.fbaipublicfiles.com/dinov2/{arch}/{stem}_pretrain.pth)"
    return ""


def _unreachable(spec: ModelSpec, what: str, exc: Exception) -> SourceError:
    """The one error a user sees when ``fetch_model`` cannot reach the network."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if spec.backend == "torchhub":
        repo = spec.hub_repo.split(":")[0]
        fix = (
            f"To run offline, on a machine with internet `git clone https://github.com/{repo}` and "
            f"download the checkpoint{_weights_hint(spec)}, then set `models.{spec.key}.repo` to "
            "the "
            f"clone's folder and `models.{spec.key}.weights` to the checkpoint's path in your "
            "config"
        )
    else:
        fix = (
            f"To run offline, download the weights on a machine with internet and set "
            f"`models.{spec.key}.weights` to the local file's path in your config"
        )
    return SourceError(
        f"cannot fetch {what} for model {spec.key!r}: {reason}. {fix} "
        "(or copy a resources/ folder seeded on a machine with internet; README, *Air-gapped*)."
    )


def reachable(url: str) -> None:
    """Raise (an ``OSError``) at once when ``url``'s server cannot be reached at all.

    An HTTP error status counts as reachable: the library that fetches the file
    reports those better than we can.
    """
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "fmeval"})
    try:
        urllib.request.urlopen(request, timeout=TIMEOUT_S).close()
    except urllib.error.HTTPError:
        pass


@contextlib.contextmanager
def network_timeout(seconds: float = TIMEOUT_S) -> Iterator[None]:
    """A default socket timeout, so that a dead network fails fast instead of hanging."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


# --- torch.hub (official facebookresearch/dinov2 and dinov3 code) -----------------------


def _hub_fetch(spec: ModelSpec, cache_dir: Path) -> dict:
    repo = spec.hub_repo
    if local_path(repo).is_dir():
        repo_dir = local_path(repo).resolve()
        weights_file = None
        if spec.weights == "pretrained":
            with cache_env(cache_dir), network_timeout():
                try:
                    torch.hub.load(str(repo_dir), spec.name, source="local", pretrained=True)
                except Exception as exc:  # noqa: BLE001 - any failure here is a fetch failure
                    raise _unreachable(spec, "pretrained weights", exc) from exc
                weights_file = _newest_checkpoint(spec, cache_dir)
    else:
        with cache_env(cache_dir), network_timeout():
            hub_dir = Path(torch.hub.get_dir())
            try:
                torch.hub.load(
                    repo,
                    spec.name,
                    pretrained=spec.weights == "pretrained",
                    trust_repo=True,
                    skip_validation=True,
                )
            except Exception as exc:  # noqa: BLE001
                url = f"https://github.com/{repo.split(':')[0]}"
                raise _unreachable(spec, f"the hub code from {url}", exc) from exc
            owner, name = repo.split(":")[0].split("/")
            candidates = sorted(hub_dir.glob(f"{owner}_{name}_*"), key=os.path.getmtime)
            repo_dir = candidates[-1].resolve()
            weights_file = (
                _newest_checkpoint(spec, cache_dir) if spec.weights == "pretrained" else None
            )
    if spec.weights not in {"pretrained", "random"}:
        weights_file = local_path(spec.weights)
    return {"repo_dir": str(repo_dir), **weights_record(spec, weights_file)}


def _newest_checkpoint(spec: ModelSpec, cache_dir: Path) -> Path:
    """The checkpoint torch.hub just downloaded for ``spec`` (``dinov2_vits14_reg4_*`` is
    not taken for ``dinov2_vits14``)."""
    ckpt_dir = Path(cache_dir) / "torch" / "hub" / "checkpoints"
    stem = spec.name.replace("_reg", "_reg4")
    found = sorted(
        (p for p in ckpt_dir.glob(f"{stem}_*") if not p.name[len(stem) + 1 :].startswith("reg")),
        key=os.path.getmtime,
    )
    if not found:
        raise SourceError(
            f"model {spec.key!r}: no checkpoint named {stem}_* appeared in {ckpt_dir}"
        )
    return found[-1]


def _load_state(model: torch.nn.Module, spec: ModelSpec, weights_file: str) -> None:
    try:
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        if (
            isinstance(state, Mapping)
            and "model" in state
            and not any(k.endswith("weight") for k in state)
        ):
            state = state["model"]
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(
            f"model {spec.key!r}: weights {weights_file} do not load into {spec.name} ({exc}). "
            "Point `weights` at a checkpoint for this architecture."
        ) from exc


def _hub_build(spec: ModelSpec, manifest: Mapping) -> torch.nn.Module:
    torch.manual_seed(0)  # random-init is reproducible
    model = torch.hub.load(manifest["repo_dir"], spec.name, source="local", pretrained=False)
    if manifest["weights_file"]:
        _load_state(model, spec, manifest["weights_file"])
    return model


def _hub_forward(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ((patches, cls),) = model.get_intermediate_layers(
        x, n=1, reshape=True, return_class_token=True, norm=False
    )
    return patches, cls


register_backend("torchhub", Backend(_hub_fetch, _hub_build, _hub_forward))


# --- timm -----------------------------------------------------------------------------


def _timm_fetch(spec: ModelSpec, cache_dir: Path) -> dict:
    import timm

    weights_file = None
    if spec.weights == "pretrained":
        with cache_env(cache_dir), network_timeout():
            cfg = timm.create_model(spec.name, pretrained=False).pretrained_cfg
            try:
                from huggingface_hub import constants, hf_hub_download

                # One quick probe first: offline, huggingface_hub retries with back-off for
                # half a minute before it gives up.
                reachable(f"{constants.ENDPOINT}/{cfg['hf_hub_id']}")

                weights_file = Path(
                    hf_hub_download(
                        cfg["hf_hub_id"],
                        "model.safetensors",
                        cache_dir=Path(cache_dir).resolve() / "huggingface" / "hub",
                    )
                )
            except Exception as exc:  # noqa: BLE001
                url = f"https://huggingface.co/{cfg.get('hf_hub_id')}"
                raise _unreachable(spec, f"weights from {url}", exc) from exc
    elif not spec.is_random:
        weights_file = local_path(spec.weights)
    return {"repo_dir": None, **weights_record(spec, weights_file)}


def _timm_build(spec: ModelSpec, manifest: Mapping) -> torch.nn.Module:
    import timm

    torch.manual_seed(0)
    if manifest["weights_file"]:
        try:
            model = timm.create_model(
                spec.name,
                pretrained=True,
                pretrained_cfg_overlay={"file": manifest["weights_file"]},
                dynamic_img_size=True,
            )
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(
                f"model {spec.key!r}: weights {manifest['weights_file']} do not load into "
                f"{spec.name} ({exc})"
            ) from exc
    else:
        model = timm.create_model(spec.name, pretrained=False, dynamic_img_size=True)
    if getattr(model, "cls_token", None) is None:
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
    spec: ModelSpec, *, cache_dir: str | os.PathLike, manifest: str | os.PathLike
) -> dict:
    """Seed the local cache with what ``spec`` needs and write its JSON manifest to ``manifest``.

    Paths inside ``cache_dir`` are stored relative to the manifest's folder, so that a
    fetched ``resources/`` can be copied to an offline machine or another folder.
    """
    backend = backend_of(spec)
    record = {**asdict(spec), **backend.fetch(spec, Path(cache_dir))}
    cache, home = Path(cache_dir).resolve(), Path(manifest).resolve().parent
    stored = dict(record)
    for key in PATH_KEYS:
        if record[key] and Path(record[key]).resolve().is_relative_to(cache):
            stored[key] = os.path.relpath(Path(record[key]).resolve(), home)
    with atomic_path(manifest) as tmp:
        tmp.write_text(json.dumps(stored, indent=1))
    return record


def load_manifest(path: str | os.PathLike) -> tuple[ModelSpec, dict]:
    """The spec and fetch record written by :func:`fetch_model`, with absolute paths."""
    path = Path(path)
    record = json.loads(path.read_text())
    for key in PATH_KEYS:
        if record[key] and not Path(record[key]).is_absolute():
            record[key] = str((path.resolve().parent / record[key]).resolve())
    fields = ModelSpec.__dataclass_fields__
    return ModelSpec(**{k: record[k] for k in fields}), record


def create_backbone(spec: ModelSpec, manifest: Mapping) -> torch.nn.Module:
    """Build the network for ``spec`` from its fetched manifest, in eval mode, offline.

    The fetch record holds absolute paths to the hub code and the checkpoint, so
    nothing is downloaded here.
    """
    return BACKENDS[spec.backend].build(spec, manifest).eval()  # the spec was checked by fetch


def run_backbone(
    spec: ModelSpec, model: torch.nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Last-block patch tokens as (B, D, rows, cols) and CLS tokens as (B, D)."""
    return BACKENDS[spec.backend].forward(model, x)
