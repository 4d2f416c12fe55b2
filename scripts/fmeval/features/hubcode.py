"""Remote code and weights, downloaded by fmeval itself (deadline, length check, atomic).

torch.hub and huggingface_hub would download these with no overall deadline (a server
that trickles one byte every few seconds holds the run forever), so fmeval fetches them
with :func:`fmeval.io.sources.fetch`, as every other download, and hands the libraries
only local files:

- the torch.hub code of ``owner/repo[:ref]``: GitHub's zipball of that ref, unpacked where
  torch.hub keeps it (``<hub dir>/<owner>_<repo>_<ref>``), so a folder torch.hub fetched
  before is reused; without a ref, the default branch (``HEAD``);
- timm's weights: ``model.safetensors`` of the model's ``hf_hub_id`` on the Hugging Face
  Hub (``HF_ENDPOINT`` names a mirror, as for huggingface_hub).
"""

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from fmeval.errors import DataError, SourceError
from fmeval.io.archives import DEFAULT_BOUNDS, Bounds, extract_zip
from fmeval.io.sources import fetch

GITHUB = "https://github.com"
HF_DEFAULT_ENDPOINT = "https://huggingface.co"


def split_hub_repo(repo: str) -> tuple[str, str, str]:
    """``owner/repo[:ref]`` as (owner, repo, ref); the default branch is ``HEAD``."""
    owner_name, _, ref = repo.partition(":")
    owner, name = owner_name.split("/")
    return owner, name, ref or "HEAD"


def fetch_hub_code(
    repo: str, hub_dir: Path, *, deadline_s: float, bounds: Bounds = DEFAULT_BOUNDS
) -> Path:
    """The folder holding the hub code of ``repo``, downloaded once into ``hub_dir``."""
    owner, name, ref = split_hub_repo(repo)
    folder = Path(hub_dir) / f"{owner}_{name}_{ref.replace('/', '_')}"
    if folder.is_dir():
        return folder.resolve()
    url = f"{GITHUB}/{owner}/{name}/zipball/{ref}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".tmp-{folder.name}.") as tmp:
        archive = fetch(
            url, Path(tmp) / "code.zip", what=f"the hub code of {repo}", deadline_s=deadline_s
        )
        unpacked = Path(tmp) / "code"
        extract_zip(archive, unpacked, what=f"the hub code of {repo} ({url})", bounds=bounds)
        tops = list(unpacked.iterdir())  # GitHub wraps the tree in one <owner>-<repo>-<sha>/
        if len(tops) != 1 or not (tops[0] / "hubconf.py").is_file():
            raise DataError(f"the hub code of {repo} ({url}) has no hubconf.py at its top")
        tops[0].rename(folder)
    return folder.resolve()


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", HF_DEFAULT_ENDPOINT).rstrip("/")


def timm_weights_url(pretrained_cfg: Mapping) -> str:
    """Where timm's loader would read a model's pretrained weights from."""
    hub_id = pretrained_cfg.get("hf_hub_id")
    if not hub_id:
        raise SourceError(f"timm names no Hugging Face Hub id for {pretrained_cfg!r}")
    filename = pretrained_cfg.get("hf_hub_filename") or "model.safetensors"
    return f"{hf_endpoint()}/{hub_id}/resolve/main/{filename}"


def fetch_timm_weights(pretrained_cfg: Mapping, cache_dir: Path, *, deadline_s: float) -> Path:
    """timm's pretrained weights of a model, downloaded once under ``cache_dir``."""
    url = timm_weights_url(pretrained_cfg)
    hub_id = pretrained_cfg["hf_hub_id"]
    path = Path(cache_dir) / "huggingface" / hub_id.replace("/", "--") / url.rsplit("/", 1)[1]
    if not path.is_file():
        fetch(url, path, what=f"the weights of {hub_id}", deadline_s=deadline_s)
    return path
