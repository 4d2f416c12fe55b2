"""Where a backbone's official code and weights are published, and how fetch errors name them.

Torch-free: the fetch step (:mod:`fmeval.features.backbones`) raises these errors before any
compute job, and they tell an offline user what to download and which config key to set.
"""

from fmeval.errors import SourceError
from fmeval.features.models import ModelSpec

# The official DINOv2 hub entry points whose checkpoints fmeval knows how to download.
DINOV2_HUB_NAMES = tuple(f"dinov2_vit{size}14{reg}" for size in "sblg" for reg in ("", "_reg"))


def hub_checkpoint_url(spec: ModelSpec) -> str | None:
    """Where the official checkpoint of a torchhub model is published (None: not known)."""
    if spec.name in DINOV2_HUB_NAMES:
        arch = spec.name.removesuffix("_reg")
        stem = spec.name.replace("_reg", "_reg4")
        return f"https://dl.fbaipublicfiles.com/dinov2/{arch}/{stem}_pretrain.pth"
    return None


def _weights_hint(spec: ModelSpec) -> str:
    """Where the official checkpoint of ``spec`` lives, for the offline hint."""
    url = hub_checkpoint_url(spec)
    return f" (e.g. {url})" if url else ""


def weights_naming(spec: ModelSpec) -> dict:
    """How checkpoint errors name a model's weights and the key to change (and whether the
    file is fmeval's own download, which a corrupt-file error says to delete)."""
    return {
        "what": f"model {spec.key!r}: weights",
        "config_key": f"models.{spec.key}.weights",
        "arch": spec.name,
        "cached": spec.weights == "pretrained",
    }


def offline_error(spec: ModelSpec, cause: str) -> SourceError:
    """The one error a user sees when ``fetch_model`` cannot download what it needs."""
    if spec.backend == "torchhub":
        repo = spec.hub_repo.split(":")[0]
        fix = (
            f"To run offline, on a machine with internet `git clone https://github.com/{repo}` and "
            f"download the checkpoint{_weights_hint(spec)}, then set `models.{spec.key}.repo` to "
            f"the clone's folder and `models.{spec.key}.weights` to the checkpoint's path in your "
            "config"
        )
    else:
        fix = (
            f"To run offline, download the weights on a machine with internet and set "
            f"`models.{spec.key}.weights` to the local file's path in your config"
        )
    return SourceError(
        f"model {spec.key!r}: {cause} {fix} "
        "(or copy a resources/ folder seeded on a machine with internet; README, *Air-gapped*)."
    )


# --- torch.hub (official facebookresearch/dinov2 and dinov3 code) -----------------------
