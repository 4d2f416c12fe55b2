"""The Reconstruct Anything Model's weights: fetched once on the submit host, loaded offline.

``ct.ram.weights`` is ``pretrained`` (deepinv's checkpoint, downloaded by fmeval into
``resources/torch/hub/checkpoints/ram.pth.tar``, or used from there when already
present), the path of a local state dict, or ``random`` (a seeded random
initialisation, for tests only, flagged everywhere). Every checkpoint is read safely
(``weights_only``, fmeval.io.checkpoints) into a RAM built without weights, strictly.
"""

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from fmeval.io.atomic import atomic_path
from fmeval.io.checkpoints import RANDOM_INIT, load_weights
from fmeval.io.paths import resolve_paths, store_paths
from fmeval.io.reading import read_json
from fmeval.io.sources import DEADLINE_S, fetch, local_path, sha256_file

log = logging.getLogger(__name__)

RAM_URL = "https://huggingface.co/mterris/ram/resolve/main/ram.pth.tar"
RAM_FILE = "ram.pth.tar"
CONFIG_KEY = "ct.ram.weights"


def load_ram_file(
    path: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """deepinv's RAM, built without weights, with the state dict at ``path`` loaded into it
    safely and strictly; anything else is a ConfigError naming ``ct.ram.weights``."""
    import deepinv as dinv

    model = dinv.models.RAM(pretrained=False)
    load_weights(model, path, what="RAM weights", config_key=CONFIG_KEY, arch="deepinv's RAM")
    return model.to(device)


def fetch_ram_weights(
    *,
    weights: str,
    cache_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    deadline_s: float = DEADLINE_S,
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
            path = Path(cache_dir) / "torch" / "hub" / "checkpoints" / RAM_FILE
            if not path.is_file():
                fetch(
                    RAM_URL,
                    path,
                    what="the RAM weights",
                    config_key=CONFIG_KEY,
                    deadline_s=deadline_s,
                )
        else:
            path = local_path(weights)
        load_ram_file(path)  # safe, and the architecture check, before any compute job starts
        record = {
            "weights": weights,
            "weights_file": str(path.resolve()),
            "weights_id": f"sha256:{sha256_file(path)}",
            "random_init": False,
        }
    base = Path(cache_dir).resolve().parent
    stored = store_paths(
        record, ["weights_file"], manifest=manifest, base=base, given={"weights_file": weights}
    )
    with atomic_path(manifest, suffix=".json") as tmp:
        tmp.write_text(json.dumps(stored, indent=1))
    log.info("RAM weights: %s", record["weights_id"])
    return record


def read_ram_manifest(path: str | os.PathLike) -> dict:
    fix = "delete it and rerun fetch_ram_weights"
    record = read_json(path, what="the RAM manifest", fix=fix)
    return resolve_paths(record, ["weights_file"], manifest=path)


def load_ram(
    manifest: Mapping, *, device: str | torch.device = "cpu", seed: int = 0
) -> torch.nn.Module:
    """The RAM network of a manifest, in eval mode, without the network."""
    import deepinv as dinv

    if manifest["random_init"]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = dinv.models.RAM(pretrained=False)
    else:
        model = load_ram_file(manifest["weights_file"])
    return model.to(device).eval()
