"""Feature taps: names, one forward pass for several taps, the model's own tokens."""

import pytest
import timm
import torch
from conftest import OFFICIAL_DINOV2_HUB

from fmeval.errors import ConfigError
from fmeval.features.taps import Tap, parse_tap, run_taps


def test_names_round_trip():
    for name in ("last-raw", "last-norm", "last4-norm", "last2-raw"):
        assert parse_tap(name).name == name
    assert parse_tap("last4-norm") == Tap(4, True)
    # the default's metadata words are fmeval's historic ones (its files stay byte-identical)
    assert parse_tap("last-raw").description == "last block, no final norm"


@pytest.mark.parametrize("bad", ["last", "last0-norm", "norm", "last-4", "last4-normed"])
def test_bad_name_is_one_line(bad):
    with pytest.raises(ConfigError, match=r"^classify.tap: .* is not a feature tap; use"):
        parse_tap(bad, key="classify.tap")


def counting(model):
    """The number of forward passes, counted at the patch embedding."""
    calls = []
    model.patch_embed.register_forward_hook(lambda *a: calls.append(1))
    return calls


TAPS = [parse_tap(n) for n in ("last-raw", "last-norm", "last4-norm", "last4-raw")]


@pytest.fixture(scope="module")
def official_dinov2():
    if not OFFICIAL_DINOV2_HUB.is_dir():
        pytest.skip(f"{OFFICIAL_DINOV2_HUB} is absent")
    torch.manual_seed(0)
    hub = str(OFFICIAL_DINOV2_HUB)
    return torch.hub.load(hub, "dinov2_vits14_reg", source="local", pretrained=False).eval()


def test_official_dinov2_taps_in_one_pass(official_dinov2):
    """Raw and normed taps of the official DINOv2 (with registers) in one forward pass equal
    its get_intermediate_layers with and without the norm; last-norm's CLS is the forward
    output (x_norm_clstoken, DINOv2's k-NN token)."""
    m = official_dinov2
    x = torch.randn(2, 3, 42, 56)
    calls = counting(m)
    with torch.inference_mode():
        got = run_taps("torchhub", m, x, TAPS)
        assert len(calls) == 1
        for norm in (False, True):
            ref = m.get_intermediate_layers(
                x, n=4, reshape=True, return_class_token=True, norm=norm
            )
            one, four = got[Tap(1, norm)], got[Tap(4, norm)]
            assert torch.equal(one[0], ref[-1][0]) and torch.equal(one[1], ref[-1][1])
            assert torch.equal(four[0], torch.cat([r[0] for r in ref], 1))
            assert torch.equal(four[1], torch.cat([r[1] for r in ref], 1))
        assert torch.equal(got[Tap(1, True)][1], m.forward_features(x)["x_norm_clstoken"])
    assert got[Tap(4, True)][0].shape == (2, 4 * 384, 3, 4)


@pytest.mark.parametrize(
    "name, size",
    [("vit_small_patch16_dinov3.lvd1689m", 64), ("vit_small_patch14_reg4_dinov2.lvd142m", 56)],
)
def test_timm_taps_in_one_pass(name, size):
    torch.manual_seed(0)
    m = timm.create_model(name, pretrained=False, dynamic_img_size=True).eval()
    x = torch.randn(2, 3, size, 2 * size)
    calls = counting(m)
    with torch.inference_mode():
        got = run_taps("timm", m, x, TAPS)
        assert len(calls) == 1
        for norm in (False, True):
            ref = m.forward_intermediates(
                x,
                indices=4,
                return_prefix_tokens=True,
                norm=norm,
                output_fmt="NCHW",
                intermediates_only=True,
            )
            one = got[Tap(1, norm)]
            assert torch.equal(one[0], ref[-1][0]) and torch.equal(one[1], ref[-1][1][:, 0])
            assert torch.equal(got[Tap(4, norm)][1], torch.cat([r[1][:, 0] for r in ref], 1))
        # normed CLS = the model's own forward_features, then its final norm (as timm pools)
        assert torch.equal(got[Tap(1, True)][1], m.forward_features(x)[:, 0])


def test_same_norm_taps_take_the_model_output(official_dinov2):
    with torch.inference_mode():
        x = torch.randn(1, 3, 28, 28)
        got = run_taps("torchhub", official_dinov2, x, [Tap(1, True)])
        ref = official_dinov2.get_intermediate_layers(x, n=1, return_class_token=True)
    assert torch.equal(got[Tap(1, True)][1], ref[0][1])
