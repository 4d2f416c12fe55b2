"""The Reconstruct Anything Model's weights: fetched once on the submit host, loaded offline.

``ct.ram.weights`` is ``pretrained`` (deepinv's checkpoint, downloaded by fmeval into
``resources/torch/hub/checkpoints/ram.pth.tar``, or used from there when already
present), the path of a local state dict, or ``random`` (a seeded random
initialisation, for tests only, flagged everywhere). Every checkpoint is read safely
(``weights_only``, fmeval.io.checkpoints) into a RAM built without weights, strictly.
"""

import logging
import os
from collections.abc import Mapping

import torch

from fmeval.ct.methods import RAM_URL
from fmeval.io.checkpoints import hub_checkpoint, load_weights, weights_identity
from fmeval.io.paths import read_fetch_manifest, write_fetch_manifest
from fmeval.io.sources import DEADLINE_S, local_path

log = logging.getLogger(__name__)

RAM_FILE = "ram.pth.tar"
CONFIG_KEY = "ct.ram.weights"
KEYS = ["weights_file"]  # the manifest's paths


def load_ram_file(
    path: str | os.PathLike, *, device: str | torch.device = "cpu", cached: bool = False
) -> torch.nn.Module:
    """deepinv's RAM, built without weights, with the state dict at ``path`` loaded into it
    safely and strictly; anything else is a ConfigError naming ``ct.ram.weights`` (or, for
    ``cached``, fmeval's own download, saying to delete it)."""
    import deepinv as dinv

    model = dinv.models.RAM(pretrained=False)
    load_weights(
        model,
        path,
        what="RAM weights",
        config_key=CONFIG_KEY,
        arch="deepinv's RAM",
        cached=cached,
    )
    return model.to(device)


def fetch_ram_weights(
    *,
    weights: str,
    cache_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    deadline_s: float = DEADLINE_S,
) -> dict[str, str | bool | None]:
    """Make ``weights`` available offline and write a manifest naming the file and its identity."""
    path = None
    if weights == "pretrained":
        path = hub_checkpoint(
            RAM_URL,
            RAM_FILE,
            cache_dir=cache_dir,
            what="the RAM weights",
            config_key=CONFIG_KEY,
            deadline_s=deadline_s,
        )
    elif weights != "random":
        path = local_path(weights)
    if path is not None:
        # safe, and the architecture check, before any compute job starts
        load_ram_file(path, cached=weights == "pretrained")
    record = {"weights": weights, **weights_identity(path), "random_init": path is None}
    given = {"weights_file": weights}  # as the config named it
    write_fetch_manifest(record, KEYS, manifest=manifest, cache_dir=cache_dir, given=given)
    log.info("RAM weights: %s", record["weights_id"])
    return record


def read_ram_manifest(path: str | os.PathLike) -> dict:
    fix = "delete it and rerun fetch_ram_weights"
    return read_fetch_manifest(path, KEYS, what="the RAM manifest", fix=fix)


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
        cached = manifest.get("weights") == "pretrained"
        model = load_ram_file(manifest["weights_file"], cached=cached)
    return model.to(device).eval()
