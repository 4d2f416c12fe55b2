"""Checkpoints are data, never code.

Every weights file fmeval loads, whatever its origin (a download, a cache, a local
path; any backend), goes through :func:`read_state_dict`: safetensors, or
``torch.load(..., weights_only=True)``, which refuses any pickle that would run code.
:func:`load_weights` then loads it into a network built without weights, with strict
key and shape checks, so a checkpoint for another architecture is one clear error.
:func:`weights_identity` names a checkpoint in a fetch manifest by its sha256, and
:func:`hub_checkpoint` keeps a published one in the torch.hub cache, downloaded once.
"""

import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from fmeval.errors import ConfigError
from fmeval.io.sources import fetch, sha256_file

RANDOM_INIT = "random-init"
_WRAPPERS = ("model", "state_dict", "module", "params")  # training checkpoints nest the weights


def _corrupt_in_cache(path: Path, what: str, reason: str) -> ConfigError:
    """The error for a damaged file in fmeval's own cache: the fix is to delete it."""
    return ConfigError(
        f"{what} {path} is corrupt or truncated ({reason}); it is fmeval's own download in "
        f"its cache under resources/, and every run fails on it the same way until it is "
        f"gone: delete that file (rm {path}) and rerun, and fmeval downloads it again."
    )


def read_state_dict(
    path: str | os.PathLike, *, what: str, config_key: str, cached: bool = False
) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint, read without running any code.

    A ``.safetensors`` file is read by safetensors; anything else by ``torch.load`` with
    ``weights_only=True``. A training checkpoint that nests its weights under ``model``,
    ``state_dict``, ``module`` or ``params`` is unwrapped. A file that does not read is one
    error naming it; ``cached``: the file is fmeval's own download (the error says to delete
    it), not one the config names.
    """
    path = Path(path)
    fix = (
        f"Point `{config_key}` at a plain state dict (tensors only, as "
        "torch.save(model.state_dict()) or safetensors write it) from a source you trust"
    )
    from safetensors import SafetensorError

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist. {fix}.") from exc
    except SafetensorError as exc:  # a damaged header or body: never code
        reason = _first_line(exc)
        if cached:
            raise _corrupt_in_cache(path, what, reason) from exc
        raise ConfigError(
            f"{what} {path} is not a readable safetensors file ({reason}); it is corrupt or "
            f"truncated. Download it again (and check its sha256), or point `{config_key}` at "
            "an intact copy."
        ) from exc
    except (
        pickle.UnpicklingError,
        RuntimeError,
        ValueError,
        EOFError,
        AttributeError,
        TypeError,
    ) as exc:
        if isinstance(exc, pickle.UnpicklingError):
            reason = "it holds Python objects besides tensors, which weights_only loading refuses"
        else:
            reason = _first_line(exc)
            if cached:
                raise _corrupt_in_cache(path, what, reason) from exc
        raise ConfigError(
            f"{what} {path} is not a checkpoint of plain tensors; it was not loaded, as loading it "
            f"could run code or it is corrupt ({reason}). {fix}."
        ) from exc
    while isinstance(state, Mapping):
        inner = [k for k in _WRAPPERS if isinstance(state.get(k), Mapping)]
        if not inner or any(isinstance(v, torch.Tensor) for v in state.values()):
            break
        state = state[inner[0]]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ConfigError(
            f"{what} {path} is not a state dict (a mapping of names to tensors). {fix}."
        )
    return dict(state)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else 'unreadable'}"


def load_weights(
    model: torch.nn.Module,
    path: str | os.PathLike,
    *,
    what: str,
    config_key: str,
    convert: Callable[[dict, torch.nn.Module], dict] | None = None,
    arch: str | None = None,
    cached: bool = False,
) -> torch.nn.Module:
    """Load the checkpoint at ``path`` into ``model`` (built without weights), strictly.

    ``convert`` maps the checkpoint's names onto the model's (timm's checkpoint filters);
    ``arch`` names the architecture in errors (default: the model's class); ``cached``: the
    file is fmeval's own download (:func:`read_state_dict`).
    """
    state = read_state_dict(path, what=what, config_key=config_key, cached=cached)
    if convert is not None:
        state = convert(state, model)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", shapes)):
            if keys:
                shown = ", ".join(keys[:5]) + (
                    f" and {len(keys) - 5} more" if len(keys) > 5 else ""
                )
                parts.append(f"{len(keys)} {label} ({shown})")
        raise ConfigError(
            f"{what} {path} do not load into {arch or type(model).__name__}: {'; '.join(parts)}. "
            f"Point `{config_key}` at a checkpoint for this architecture."
        )
    model.load_state_dict(state, strict=True)
    return model


def weights_identity(path: str | os.PathLike | None) -> dict:
    """The manifest fields that name a weights file: its absolute path and its sha256; for
    random weights (no file), none and ``random-init``."""
    if path is None:
        return {"weights_file": None, "weights_id": RANDOM_INIT}
    return {"weights_file": str(Path(path).resolve()), "weights_id": f"sha256:{sha256_file(path)}"}


def hub_checkpoint(
    url: str,
    name: str,
    *,
    cache_dir: str | os.PathLike,
    what: str,
    config_key: str,
    deadline_s: float,
) -> Path:
    """A published checkpoint in the torch.hub cache below ``cache_dir``
    (``torch/hub/checkpoints/<name>``), where torch.hub would keep it; downloaded by fmeval
    when it is not there yet."""
    path = Path(cache_dir) / "torch" / "hub" / "checkpoints" / name
    if not path.is_file():
        fetch(url, path, what=what, config_key=config_key, deadline_s=deadline_s)
    return path
