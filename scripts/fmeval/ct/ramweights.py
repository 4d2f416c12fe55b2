"""The Reconstruct Anything Model's weights: fetched once on the submit host, loaded offline.

``ct.ram.weights`` is ``pretrained`` (deepinv's checkpoint, downloaded into
``resources/torch/hub/checkpoints`` through torch.hub's cache, where
``RAM(pretrained=True)`` looks for it), the path of a local state dict, or
``random`` (a seeded random initialisation, for tests only, flagged everywhere).
"""

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from fmeval.errors import ConfigError, DataError, SourceError
from fmeval.io.atomic import atomic_path
from fmeval.io.checkpoints import RANDOM_INIT
from fmeval.io.sources import local_path, sha256_file
from fmeval.runtime import cache_env

log = logging.getLogger(__name__)

RAM_URL = "https://huggingface.co/mterris/ram/resolve/main/ram.pth.tar"
RAM_FILE = "ram.pth.tar"


def load_ram_file(
    path: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """``RAM(pretrained=path)``: a state dict that does not fit the architecture is a
    ConfigError.
    """
    import deepinv as dinv

    try:
        return dinv.models.RAM(pretrained=str(path), device=device)
    except Exception as exc:  # noqa: BLE001 - unpickling, missing or mis-shaped keys: all one error
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"RAM weights {path} do not load into deepinv's RAM ({type(exc).__name__}: {reason}); "
            "point `ct.ram.weights` at a RAM state dict (e.g. deepinv's ram.pth.tar), "
            "`pretrained` or `random`"
        ) from exc


def fetch_ram_weights(
    *, weights: str, cache_dir: str | os.PathLike, manifest: str | os.PathLike
) -> dict:
    """Make ``weights`` available offline and write a manifest naming the file and its identity."""
    if weights == "random":
        record = {
            "weights": weights,
            "weights_file": None,
            "weights_id": RANDOM_INIT,
            "random_init": True,
        }
    else:
        if weights == "pretrained":
            with cache_env(Path(cache_dir)):
                try:
                    torch.hub.load_state_dict_from_url(
                        RAM_URL, map_location="cpu", file_name=RAM_FILE
                    )
                except Exception as exc:  # noqa: BLE001 - offline, HTTP error, truncated download
                    raise SourceError(
                        f"cannot download the RAM weights from {RAM_URL} ({type(exc).__name__}: "
                        f"{exc}). "
                        f"To run offline, download that file on a machine with internet and set "
                        f"`ct.ram.weights` to its local path (or copy it to "
                        f"{Path(cache_dir) / 'torch' / 'hub' / 'checkpoints' / RAM_FILE})"
                    ) from exc
                path = Path(torch.hub.get_dir()) / "checkpoints" / RAM_FILE
        else:
            path = local_path(weights)
            load_ram_file(path)  # the architecture check, before any compute job starts
        record = {
            "weights": weights,
            "weights_file": str(path.resolve()),
            "weights_id": f"sha256:{sha256_file(path)}",
            "random_init": False,
        }
    with atomic_path(manifest, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    log.info("RAM weights: %s", record["weights_id"])
    return record


def read_ram_manifest(path: str | os.PathLike) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read the RAM manifest {path} ({exc}); delete it and rerun fetch_ram_weights"
        ) from exc


def load_ram(
    manifest: Mapping, *, device: str | torch.device = "cpu", seed: int = 0
) -> torch.nn.Module:
    """The RAM network of a manifest, in eval mode, without the network."""
    import deepinv as dinv

    if manifest["random_init"]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = dinv.models.RAM(pretrained=False)
    elif manifest["weights"] == "pretrained":
        # Exactly what RAM(pretrained=True) does with its cached download (strict=False).
        model = dinv.models.RAM(pretrained=False)
        state = torch.load(manifest["weights_file"], map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if len(missing) == len(model.state_dict()):
            raise DataError(
                f"the cached RAM checkpoint {manifest['weights_file']} matches none of RAM's "
                "parameters; "
                "delete it and rerun fetch_ram_weights"
            )
        if missing or unexpected:
            log.warning(
                "RAM checkpoint: %d missing and %d unexpected keys", len(missing), len(unexpected)
            )
    else:
        model = load_ram_file(manifest["weights_file"])
    return model.to(device).eval()
