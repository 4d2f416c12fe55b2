"""The last layer's CLS-token attention, per head, for a test image (needs the backbone).

Supported: ViTs whose last block has an ``attn`` module with a ``qkv`` projection,
``num_heads`` and ``scale`` — the official DINOv2 hub models (``model.blocks[-1].attn``),
timm ViTs (the same, plus ``q_norm``/``k_norm``) and the test hub fixture, which wraps a
timm ViT as ``model.vit``. The attention is recomputed from the block's input, as
``softmax(q k^T * scale)``; the CLS row over the patch tokens (prefix and register tokens
dropped) is the map. Models with rotary embeddings (DINOv3) are refused: their q and k
are rotated inside the block, which this cannot reproduce faithfully.
"""

import logging

import numpy as np
import torch

from fmeval.errors import ConfigError
from fmeval.features.backbones import create_backbone, load_manifest, run_backbone
from fmeval.features.families import input_norm
from fmeval.features.images import load_rgb, patch_grid, resize_to_grid, to_normalised_tensor
from fmeval.plots import save_png, title_lines
from fmeval.runtime import pick_device
from fmeval.seg.segment import cell_outputs, find_test_item, test_image_names

log = logging.getLogger(__name__)


def last_attention(model: torch.nn.Module) -> tuple[torch.nn.Module, int]:
    """The last block's attention module and the number of prefix (CLS + register) tokens."""
    net = model.vit if hasattr(model, "vit") else model
    blocks = getattr(net, "blocks", None)
    if blocks is None or not len(blocks):
        raise ConfigError(
            f"{type(model).__name__} has no `blocks`; attention maps need a ViT backbone"
        )
    last = blocks[-1]
    if isinstance(last, torch.nn.ModuleList):  # DINOv2 block chunks
        last = [m for m in last if not isinstance(m, torch.nn.Identity)][-1]
    attn = getattr(last, "attn", None)
    if attn is None or not all(hasattr(attn, a) for a in ("qkv", "num_heads", "scale")):
        raise ConfigError(
            f"the last block of {type(net).__name__} has no attn.qkv; attention maps are "
            "unsupported"
        )
    if hasattr(net, "rope_embed") or hasattr(attn, "rope"):
        raise ConfigError(
            f"{type(net).__name__} uses rotary embeddings; set pca.attention_maps: false for it"
        )
    if hasattr(net, "num_prefix_tokens"):
        prefix = int(net.num_prefix_tokens)
    else:
        prefix = 1 + int(getattr(net, "num_register_tokens", 0))
    return attn, prefix


def cls_attention(
    model: torch.nn.Module, spec, x: torch.Tensor, grid: tuple[int, int]
) -> np.ndarray:
    """(B, heads, rows, cols) attention of the CLS token to each patch in the last block."""
    attn, prefix = last_attention(model)
    captured = {}
    handle = attn.register_forward_pre_hook(lambda mod, args: captured.setdefault("x", args[0]))
    try:
        with torch.inference_mode():
            run_backbone(spec, model, x)
            tokens = captured["x"]
            b, n, c = tokens.shape
            heads = attn.num_heads
            qkv = attn.qkv(tokens).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k = qkv[0], qkv[1]
            q = attn.q_norm(q) if hasattr(attn, "q_norm") else q
            k = k if not hasattr(attn, "k_norm") else attn.k_norm(k)
            weights = torch.softmax((q * attn.scale) @ k.transpose(-2, -1), dim=-1)
    finally:
        handle.remove()
    cls_row = weights[:, :, 0, prefix:]
    if cls_row.shape[-1] != grid[0] * grid[1]:
        raise ConfigError(
            f"attention has {cls_row.shape[-1]} patch tokens, expected {grid[0]}x{grid[1]}"
        )
    return cls_row.reshape(b, heads, *grid).float().cpu().numpy()


def draw_attention(image: np.ndarray, maps: np.ndarray, *, title: str, out) -> None:
    import matplotlib.pyplot as plt  # fmeval.segment has selected the Agg backend

    n = maps.shape[0] + 1
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows + 0.8), squeeze=False)
    axes = axes.ravel()
    axes[0].imshow(image)
    axes[0].set_title("image")
    for h, m in enumerate(maps):
        axes[h + 1].imshow(m, cmap="inferno")
        axes[h + 1].set_title(f"head {h} (max {m.max():.3f})", fontsize="small")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize="medium")
    save_png(fig, out)


def render_attention(
    *,
    model_manifest: str,
    dataset_manifest: str,
    dataset: str,
    res: int,
    device: str,
    folder: str,
) -> dict[str, np.ndarray]:
    """``render_attention`` for one (dataset, model, res): the last-layer CLS attention of
    every test image of the dataset into ``folder/<image>.png``; the backbone is built once."""
    spec, manifest = load_manifest(model_manifest)
    dev = pick_device(device)
    log.info("running on %s (device: %s)", dev, device)
    model = create_backbone(spec, manifest).to(dev)
    meta = {
        "dataset": dataset,
        "model": spec.key,
        "res": res,
        "random_init": spec.is_random,
        "weights": manifest.get("weights_id"),
    }
    out = {}
    for image in test_image_names(dataset_manifest):
        img = load_rgb(find_test_item(dataset_manifest, image).image)
        grid = patch_grid(*img.size, res=res, patch_size=spec.patch_size, name=image)
        shown = resize_to_grid(img, grid, patch_size=spec.patch_size)
        x = to_normalised_tensor(shown, input_norm(spec.backend, spec.name))[None].to(dev)
        maps = cls_attention(model, spec, x, grid)[0]
        title = title_lines(meta, image, ["last-layer CLS attention per head"])
        png = cell_outputs(folder, image, ".png")
        draw_attention(np.asarray(shown), maps, title=title, out=str(png))
        out[image] = maps
    return out
