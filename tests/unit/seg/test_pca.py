"""Unit tests of the test-image outputs: PCA renders, CLS similarity, foreground masks, held-out
scores, and the CLS attention maps of the hub fixture and a timm ViT."""

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import average_precision_score

from fmeval.seg.fit import Probe
from fmeval.seg.pca import cls_similarity, foreground_render, pca_render
from fmeval.seg.segment import foreground_mask, held_out_scores, score_map


def patches(seed: int, grid: tuple[int, int], dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(grid[0] * grid[1], dim)) * rng.uniform(0.5, 3, dim)


@pytest.mark.parametrize("grid", [(4, 6), (7, 3), (16, 22)])
@pytest.mark.parametrize("seed", [0, 1])
def test_pca_render_shapes_and_ranges(grid, seed):
    x = patches(seed, grid)
    rng = np.random.default_rng(seed + 10)
    fg = rng.random(grid) > 0.5
    for render, mask in ((pca_render(x, grid, foreground=fg), fg), (pca_render(x, grid), None)):
        assert render.rgb.shape == (*grid, 3)
        assert render.rgb.min() >= 0.0 and render.rgb.max() <= 1.0
        assert render.explained.shape == (3,)
        assert (
            np.all(np.diff(render.explained) <= 1e-12) and 0 < render.explained.sum() <= 1 + 1e-12
        )
        if mask is not None:
            assert np.all(render.rgb[~mask] == 0.0)  # background is black
            assert np.all(render.rgb[mask] > 0.0)  # sigmoid is never exactly 0
            assert render.fitted_on == "foreground"
    # the values are sigmoid(2 * whitened PCA) of sklearn's PCA fitted on the foreground rows
    ref = PCA(3, whiten=True, random_state=0).fit(x[fg.ravel()])
    expected = 1 / (1 + np.exp(-2 * ref.transform(x))).reshape(*grid, 3) * fg[..., None]
    np.testing.assert_allclose(pca_render(x, grid, foreground=fg).rgb, expected, atol=1e-10)


@pytest.mark.parametrize("n_fg", [0, 1, 2])
def test_no_foreground_falls_back_to_whole_image(n_fg):
    grid = (5, 5)
    x = patches(3, grid)
    fg = np.zeros(grid, dtype=bool)
    fg.ravel()[:n_fg] = True
    render, note = foreground_render(x, grid, fg)
    assert render is not None and note and "whole-image PCA" in note and f"only {n_fg}" in note
    np.testing.assert_allclose(render.rgb, pca_render(x, grid).rgb)
    assert render.fitted_on == "all patches"
    fg.ravel()[:3] = True
    render, note = foreground_render(x, grid, fg)
    assert note is None and render.fitted_on == "foreground"


def test_cls_similarity_is_cosine():
    grid = (3, 4)
    x = patches(4, grid)
    cls = x[5] * 2.0
    x[7] = -x[5]
    sim = cls_similarity(x, cls, grid)
    assert sim.shape == grid and sim.min() >= -1 and sim.max() <= 1
    assert sim.ravel()[5] == pytest.approx(1.0) and sim.ravel()[7] == pytest.approx(-1.0)
    expected = x @ cls / (np.linalg.norm(x, axis=1) * np.linalg.norm(cls))
    np.testing.assert_allclose(sim.ravel(), expected)


def constant_probe(dim: int) -> Probe:
    """p(fg) = sigmoid(x[0]): a probe whose scores are set through the first feature."""
    coef = np.zeros(dim)
    coef[0] = 1.0
    return Probe(np.zeros(dim), np.ones(dim), coef, 0.0, 1.0)


def test_score_map_median_filter_and_mask():
    grid = (5, 6)
    x = np.zeros((30, 3))
    logits = np.full(grid, -4.0)
    logits[1:4, 1:4] = 4.0  # a 3x3 foreground block
    logits[0, 5] = 4.0  # an isolated speck: the median filter removes it
    logits[2, 2] = -4.0  # a hole in the block: the median filter fills it
    x[:, 0] = logits.ravel()
    probe = constant_probe(3)
    raw = score_map(probe, x, grid, median_filter=False)
    np.testing.assert_allclose(raw, 1 / (1 + np.exp(-logits)))
    smooth = score_map(probe, x, grid, median_filter=True)
    mask = foreground_mask(smooth, threshold=0.5)
    assert not mask[0, 5] and mask[2, 2]
    assert mask.sum() == 5  # zero padding (as medfilt2d) erodes the block's corners: plus shape
    np.testing.assert_array_equal(foreground_mask(raw, threshold=0.5), logits > 0)
    # the threshold is strict: a score equal to it is background
    assert not foreground_mask(np.array([0.5]), threshold=0.5)[0]


def test_held_out_scores_reference_values():
    scores = np.array([[0.9, 0.8, 0.1], [0.6, 0.2, 0.05]])
    mask = scores > 0.5
    fg_fraction = np.array([[1.0, 0.6, 0.7], [0.4, 0.0, 0.0]], dtype=np.float32)
    out = held_out_scores(scores, mask, fg_fraction)
    truth = fg_fraction > 0.5  # [[1,1,1],[0,0,0]]
    # predicted {00, 01, 10}, true {00, 01, 02}: intersection 2, union 4
    assert out["iou"] == pytest.approx(0.5)
    assert out["ap"] == pytest.approx(average_precision_score(truth.ravel(), scores.ravel()))
    assert out["n_true_fg"] == 3


def test_held_out_scores_undefined_cases():
    scores = np.array([[0.9, 0.1]])
    out = held_out_scores(scores, scores > 0.5, np.array([[np.nan, np.nan]], dtype=np.float32))
    assert math.isnan(out["ap"]) and math.isnan(out["iou"])
    out = held_out_scores(scores, np.zeros((1, 2), bool), np.zeros((1, 2), dtype=np.float32))
    assert math.isnan(out["ap"]) and math.isnan(out["iou"])  # no foreground at all: both undefined
    out = held_out_scores(scores, np.zeros((1, 2), bool), np.ones((1, 2), dtype=np.float32))
    assert math.isnan(out["ap"]) and out["iou"] == 0.0  # all foreground, nothing predicted


def timm_reference_attention(vit, x: torch.Tensor, prefix: int, grid) -> np.ndarray:
    """The last block's attention probabilities captured inside timm (non-fused path)."""
    attn = vit.blocks[-1].attn
    attn.fused_attn = False
    seen = {}
    handle = attn.attn_drop.register_forward_hook(lambda mod, inp, out: seen.setdefault("a", out))
    with torch.inference_mode():
        vit.forward_features(x)
    handle.remove()
    a = seen["a"][:, :, 0, prefix:]
    return a.reshape(a.shape[0], a.shape[1], *grid).numpy()


def test_attention_maps_of_the_hub_fixture():
    import importlib.util

    from conftest import HUB_FIXTURE

    from fmeval.features.models import ModelSpec
    from fmeval.seg.attention import cls_attention, last_attention

    # the fixture's wrapper (timm ViT as `.vit`), two blocks deep to keep the test quick
    loader = importlib.util.spec_from_file_location("dinov2_hubconf", HUB_FIXTURE / "hubconf.py")
    hubconf = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(hubconf)
    torch.manual_seed(0)
    model = hubconf._DinoV2Like("vit_small_patch14_dinov2", depth=2).eval()
    spec = ModelSpec(
        key="s", backend="torchhub", name="dinov2_vits14", patch_size=14, weights="random"
    )
    grid = (4, 5)
    x = torch.randn(1, 3, 14 * grid[0], 14 * grid[1])
    maps = cls_attention(model, spec, x, grid)
    assert maps.shape == (1, model.vit.blocks[-1].attn.num_heads, *grid)
    assert maps.min() >= 0 and np.all(maps.sum(axis=(2, 3)) <= 1 + 1e-5)
    _, prefix = last_attention(model)
    assert prefix == 1
    np.testing.assert_allclose(
        maps, timm_reference_attention(model.vit, x, prefix, grid), atol=1e-5
    )


def test_attention_maps_of_a_timm_vit_with_registers():
    import timm

    from fmeval.features.models import ModelSpec
    from fmeval.seg.attention import cls_attention, last_attention

    torch.manual_seed(0)
    vit = timm.create_model(
        "vit_small_patch14_reg4_dinov2", pretrained=False, dynamic_img_size=True, depth=2
    ).eval()
    spec = ModelSpec(
        key="t",
        backend="timm",
        name="vit_small_patch14_reg4_dinov2",
        patch_size=14,
        weights="random",
    )
    grid = (3, 4)
    x = torch.randn(2, 3, 14 * grid[0], 14 * grid[1])
    maps = cls_attention(vit, spec, x, grid)
    _, prefix = last_attention(vit)
    assert prefix == 5  # CLS + 4 registers are dropped
    assert maps.shape == (2, 6, *grid)
    np.testing.assert_allclose(maps, timm_reference_attention(vit, x, prefix, grid), atol=1e-5)


def test_similarity_panel_names_the_family_embedding():
    """Issue 28: a model without a CLS token is compared with its own pooled embedding."""
    from fmeval.seg.pca import embedding_label

    assert embedding_label({}) == embedding_label({"embedding": "cls"}) == "CLS"
    assert embedding_label({"embedding": "map"}) == "attention pool"
    assert embedding_label({"embedding": "avg"}) == "mean pool"
