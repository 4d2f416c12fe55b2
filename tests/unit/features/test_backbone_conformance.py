"""timm's DINOv2 and DINOv3 ports give the official code's tokens for the same weights.

An official model (../shared/hub/dinov2, ../shared/hub/dinov3) at random init, its norms,
LayerScales and tokens set to random values (so that every one of them matters), has its
state dict converted by timm's own ``checkpoint_filter_fn`` (what timm applies to the
published checkpoints) and loaded, strictly, into timm's port. Both must give the same tokens
- every block's raw output, the final norm, the CLS token and the registers - at several
image sizes (position embeddings interpolated, or RoPE), so a result does not depend on which
backend loaded the model.
"""

import sys

import pytest
import timm
import torch
from conftest import OFFICIAL_DINOV2_HUB, REPO

from fmeval.features.taps import parse_tap, run_taps

OFFICIAL_DINOV3_HUB = REPO.parent / "shared" / "hub" / "dinov3"
PAIRS = {
    "dinov2": (OFFICIAL_DINOV2_HUB, "dinov2_vits14_reg", "vit_small_patch14_reg4_dinov2", 14),
    "dinov3": (OFFICIAL_DINOV3_HUB, "dinov3_vits16", "vit_small_patch16_dinov3", 16),
}
TAPS = [parse_tap(n) for n in ("last-raw", "last-norm", "last4-norm", "last4-raw")]


@pytest.fixture(scope="module", params=list(PAIRS))
def pair(request):
    hub, official_name, timm_name, patch = PAIRS[request.param]
    if not hub.is_dir():
        pytest.skip(f"{hub} is absent")
    if request.param == "dinov3":
        pytest.importorskip("termcolor")  # the official dinov3 hubconf imports it
    torch.manual_seed(0)
    official = torch.hub.load(str(hub), official_name, source="local", pretrained=False)
    if hasattr(official, "init_weights"):
        official.init_weights()
    with torch.no_grad():
        for name, p in official.named_parameters():
            if "norm" in name or ".ls" in name or "token" in name:
                centre = 1.0 if name.endswith("weight") or "gamma" in name else 0.0
                p.copy_(centre + 0.5 * torch.randn_like(p))
    port = timm.create_model(timm_name, pretrained=False, dynamic_img_size=True)
    convert = sys.modules[type(port).__module__].checkpoint_filter_fn
    port.load_state_dict(convert(official.state_dict(), port), strict=True)
    return request.param, official.eval(), port.eval(), patch


def official_tokens(family, model, x):
    """(raw last block, normed) full token sequences: CLS, registers, patches."""
    out = model.forward_features(x)
    regs = out["x_norm_regtokens"] if family == "dinov2" else out["x_storage_tokens"]
    normed = torch.cat([out["x_norm_clstoken"][:, None], regs, out["x_norm_patchtokens"]], 1)
    return out["x_prenorm"], normed


@pytest.mark.parametrize("rows_cols", [(4, 4), (3, 5), (16, 16)])
def test_timm_port_gives_the_official_tokens(pair, rows_cols):
    family, official, port, patch = pair
    rows, cols = rows_cols
    x = torch.randn(2, 3, rows * patch, cols * patch)
    with torch.inference_mode():
        raw, normed = official_tokens(family, official, x)
        assert torch.equal(port.forward_features(x), normed)  # CLS, registers, patches
        (last,) = port.forward_intermediates(
            x,
            indices=1,
            norm=False,
            output_fmt="NLC",
            intermediates_only=True,
            return_prefix_tokens=True,
        )
        n_prefix = last[1].shape[1]  # the CLS token and the registers
        assert torch.equal(last[1], raw[:, :n_prefix]) and torch.equal(last[0], raw[:, n_prefix:])
        # fmeval's taps: the same from either backend
        hub = run_taps("torchhub", official, x, TAPS)
        ported = run_taps("timm", port, x, TAPS)
    for tap in TAPS:
        assert torch.equal(hub[tap][0], ported[tap][0]), tap.name
        assert torch.equal(hub[tap][1], ported[tap][1]), tap.name
    assert n_prefix == 5 == normed.shape[1] - rows * cols  # CLS and 4 registers
    assert torch.equal(hub[TAPS[1]][1], normed[:, 0])
