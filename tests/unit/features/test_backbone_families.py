"""Every supported backbone, at random init, on 2 tiny images: grid, width, CLS, no registers.

Models up to ViT-S are built and run for real; the larger ones (ViT-B up to 7B)
are built on torch's ``meta`` device, which runs the same code on shapes only, so their
architecture is checked in milliseconds without their memory.
"""

import pytest
import torch
from conftest import DINOV3_HUB, OFFICIAL_DINOV2_HUB

from fmeval.features.backbones import BACKENDS, run_backbone
from fmeval.features.catalog import BACKBONES, Backbone
from fmeval.features.models import ModelSpec
from fmeval.io.checkpoints import RANDOM_INIT

GRID = (2, 3)
BUILT_UP_TO = 384  # embedding width of the largest model run for real (ViT-S)


def spec_of(b: Backbone) -> ModelSpec:
    repo = None
    if b.backend == "torchhub":
        repo = str(OFFICIAL_DINOV2_HUB if b.family == "DINOv2" else DINOV3_HUB)
    return ModelSpec(
        key="m",
        backend=b.backend,
        name=b.name,
        patch_size=b.patch_size,
        weights="random",
        repo=repo,
    )


def build(b: Backbone, device: str) -> tuple[ModelSpec, torch.nn.Module]:
    spec = spec_of(b)
    if b.backend == "torchhub" and b.family == "DINOv2" and not OFFICIAL_DINOV2_HUB.is_dir():
        pytest.skip(f"{OFFICIAL_DINOV2_HUB} is absent")
    manifest = {"repo_dir": spec.repo, "weights_file": None, "weights_id": RANDOM_INIT}
    with torch.device(device):
        return spec, BACKENDS[b.backend].build(spec, manifest).eval()


def last_block_tokens(model: torch.nn.Module, spec: ModelSpec, x: torch.Tensor):
    """Run the backbone and capture the last block's full token sequence (B, N, D)."""
    seen = {}
    handle = model.blocks[-1].register_forward_hook(lambda m, i, out: seen.setdefault("t", out))
    try:
        with torch.inference_mode():
            patches, cls = run_backbone(spec, model, x)
    finally:
        handle.remove()
    return patches, cls, seen["t"]


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: f"{b.backend}-{b.name}")
def test_every_backbone(backbone):
    device = "cpu" if backbone.embed_dim <= BUILT_UP_TO else "meta"
    spec, model = build(backbone, device)
    p = backbone.patch_size
    x = torch.randn(2, 3, GRID[0] * p, GRID[1] * p, generator=torch.Generator().manual_seed(0))
    patches, cls, tokens = last_block_tokens(model, spec, x.to(device))
    dim = backbone.embed_dim
    assert patches.shape == (2, dim, *GRID)
    assert cls.shape == (2, dim)
    n_patches = GRID[0] * GRID[1]
    # The token sequence is CLS, the registers, then the patches: the registers are dropped.
    assert tokens.shape == (2, 1 + backbone.registers + n_patches, dim)
    if device == "meta":
        return
    torch.testing.assert_close(cls, tokens[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(
        patches.flatten(2).transpose(1, 2), tokens[:, -n_patches:], rtol=0, atol=0
    )
    assert torch.isfinite(patches).all()


def test_hub_and_timm_differ():
    """The official DINOv2 code and timm's port are told apart (same seed, same input)."""
    x = torch.randn(1, 3, 28, 42, generator=torch.Generator().manual_seed(0))
    outs = []
    for backend, name in (("torchhub", "dinov2_vits14"), ("timm", "vit_small_patch14_dinov2")):
        b = next(b for b in BACKBONES if (b.backend, b.name) == (backend, name))
        spec, model = build(b, "cpu")
        with torch.inference_mode():
            outs.append(run_backbone(spec, model, x)[0])
    assert outs[0].shape == outs[1].shape
    assert not torch.allclose(outs[0], outs[1])
