"""Feature taps: which blocks' tokens a feature file holds, and whether the final norm was
applied. A tap is part of the file's identity (its path and Parquet metadata).

A tap is named ``last-raw``, ``last-norm`` or ``lastN-raw`` / ``lastN-norm`` (the last N
blocks): ``last-raw`` is the last block without the final norm (Tutorial 5's segmentation
probe, fmeval's default, whose files keep their historic path); ``last-norm`` the last block
through the final norm (DINO's and DINOv3's ``get_intermediate_layers``; its CLS token is
DINOv2's forward output, ``x_norm_clstoken``). A multi-block tap concatenates the blocks'
tokens along the channels, earliest block first (as ``get_intermediate_layers(n=N)`` lists
them): DINOv2's linear protocol reads the CLS tokens of ``last4-norm`` and the mean of its
last block's patch tokens (the last ``embed_dim`` channels).

Several taps of one model come from ONE forward pass (:func:`run_taps`): the blocks are run
once without the norm, and the model's own final norm is applied to the tokens of the normed
taps (the CLS/register norm of DINOv3 models with untied norms); a test checks the tokens
equal the model's ``get_intermediate_layers(norm=True)``.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fmeval.errors import ConfigError

if TYPE_CHECKING:  # the names and their parsing are read at plan time, without torch
    import torch

DEFAULT_TAP = "last-raw"
_NAME = re.compile(r"last(?P<blocks>[1-9]\d*)?-(?P<norm>raw|norm)")


@dataclass(frozen=True)
class Tap:
    blocks: int  # the last ``blocks`` blocks
    norm: bool  # through the model's final norm

    @property
    def name(self) -> str:
        return f"last{self.blocks if self.blocks > 1 else ''}-{'norm' if self.norm else 'raw'}"

    @property
    def description(self) -> str:
        """How the metadata names the tokens (the default's words are fmeval's historic ones)."""
        which = "last block" if self.blocks == 1 else f"last {self.blocks} blocks concatenated"
        return f"{which}, {'final norm' if self.norm else 'no final norm'}"


def parse_tap(name: str, *, key: str = "tap") -> Tap:
    """The tap called ``name``; a malformed name is a one-line config error."""
    m = _NAME.fullmatch(str(name))
    if m is None:
        raise ConfigError(
            f"{key}: {name!r} is not a feature tap; use last-raw, last-norm or lastN-raw/"
            "lastN-norm (the last N blocks, e.g. last4-norm)"
        )
    return Tap(int(m["blocks"] or 1), m["norm"] == "norm")


def _blocks(backend: str, model: "torch.nn.Module", x: "torch.Tensor", n: int, *, norm: bool):
    """[(patches (B, D, rows, cols), CLS (B, D))] of the last ``n`` blocks, through the
    model's final norm or not (its own ``get_intermediate_layers``/``forward_intermediates``)."""
    if backend == "torchhub":
        return list(
            model.get_intermediate_layers(x, n=n, reshape=True, return_class_token=True, norm=norm)
        )
    if backend == "timm":
        import torch

        out = model.forward_intermediates(
            x,
            indices=n,
            return_prefix_tokens=True,
            norm=norm,
            output_fmt="NCHW",
            intermediates_only=True,
        )
        # a family without prefix tokens (SigLIP, PE, AIMv2) has no CLS (timm then gives the
        # patch tensors alone): an empty (B, 0) column, replaced by the family's pooled
        # embedding (fmeval.features.embedding.embed)
        return [
            (o, o.new_zeros(len(o), 0)) if torch.is_tensor(o) else (o[0], o[1][:, 0]) for o in out
        ]
    raise ConfigError(f"backend {backend!r}: fmeval has no feature taps for it")


def final_norm(model: "torch.nn.Module", patches: "torch.Tensor", cls: "torch.Tensor"):
    """The model's final norm on one block's (B, D, rows, cols) patches and (B, D) CLS,
    as its ``get_intermediate_layers(norm=True)`` applies it (per token)."""
    if not hasattr(model, "norm"):
        raise ValueError(f"{type(model).__name__} has no final norm to apply to raw tokens")
    cls_norm = model.cls_norm if getattr(model, "untie_cls_and_patch_norms", False) else None
    normed = model.norm(patches.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return normed, (cls_norm or model.norm)(cls)


def run_taps(
    backend: str, model: "torch.nn.Module", x: "torch.Tensor", taps: Sequence[Tap]
) -> dict[Tap, tuple["torch.Tensor", "torch.Tensor"]]:
    """{tap: (patches (B, D', rows, cols), CLS (B, D'))} of every tap, from one forward pass.

    Taps that all apply the norm (or all not) take the model's own output; raw and normed
    taps together apply the model's final norm to the raw tokens (:func:`final_norm`).
    """
    mixed = len({t.norm for t in taps}) > 1
    n = max(t.blocks for t in taps)
    blocks = _blocks(backend, model, x, n, norm=taps[0].norm and not mixed)
    if not mixed:
        return {tap: _concat(blocks[len(blocks) - tap.blocks :]) for tap in taps}
    normed: dict[int, tuple] = {}
    out = {}
    for tap in taps:
        picked = []
        for i in range(len(blocks) - tap.blocks, len(blocks)):
            if tap.norm and i not in normed:
                normed[i] = final_norm(model, *blocks[i])
            picked.append(normed[i] if tap.norm else blocks[i])
        out[tap] = _concat(picked)
    return out


def _concat(blocks: Sequence[tuple["torch.Tensor", "torch.Tensor"]]):
    """One (patches, CLS) pair from several blocks' pairs: channels concatenated."""
    import torch

    if len(blocks) == 1:
        return blocks[0]
    return tuple(torch.cat(parts, dim=1) for parts in zip(*blocks))
