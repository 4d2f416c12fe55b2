"""One batch through the backbone: its patch tokens and CLS tokens, on the host, in the
storage precision (fmeval.features.storage)."""

from collections.abc import Callable, Sequence

import numpy as np
import torch

from fmeval.features.backbones import run_backbone
from fmeval.features.families import family_of
from fmeval.features.models import ModelSpec
from fmeval.features.storage import TORCH_DTYPES, as_numpy
from fmeval.features.taps import Tap, run_taps
from fmeval.runtime import autocast

CPU_FORWARD_BATCH = 1  # images per forward pass on CPU (batch_size still groups the I/O)


def has_cls_embedding(spec: ModelSpec) -> bool:
    """Whether ``spec``'s image embedding is its CLS token (else the family's pooling)."""
    family = family_of(spec.backend, spec.name)
    return family is None or family.embedding == "cls"


def forward(
    model: torch.nn.Module,
    spec: ModelSpec,
    x: torch.Tensor,
    *,
    precision: str = "fp32",
    tap: Tap | None = None,
    tick: Callable[[int], None] | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(patch tokens (b, D, rows, cols), CLS (b, D)) of each forward pass over ``x``.

    ``tap`` (fmeval.features.taps; None: the backbone's last block without the norm).
    ``tick(b)`` is called after each forward pass of ``b`` images (progress lines).
    """
    # On CPU one image per forward is faster than a batch (measured ~10%, perf/
    # extract_features.py: the attention of a batch leaves the caches); on GPU, the batch.
    step = CPU_FORWARD_BATCH if x.device.type == "cpu" else len(x)
    outs = []
    with torch.inference_mode(), autocast(precision, x.device):
        for i in range(0, len(x), step):
            part = x[i : i + step]
            if tap is None:
                out = run_backbone(spec, model, part)
            else:
                out = run_taps(spec.backend, model, part, [tap])[tap]
                if not has_cls_embedding(spec):  # the family's own pooling head (issue 28)
                    out = (out[0], run_backbone(spec, model, part)[1])
            outs.append(out)
            if tick is not None:
                tick(len(part))
    return outs


def embed(
    model: torch.nn.Module,
    spec: ModelSpec,
    x: torch.Tensor,
    *,
    precision: str = "fp32",
    tap: Tap | None = None,
    storage: str = "fp32",
    tick: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(B, rows, cols, D) patch tokens and (B, D) CLS tokens of the model input ``x`` (on the
    model's device), both in ``storage``'s numpy dtype (fmeval.features.storage).

    The patch tokens are one C-contiguous array, ready to become an Arrow column without a
    copy. ``tick``: as in :func:`forward`.
    """
    outs = forward(model, spec, x, precision=precision, tap=tap, tick=tick)
    dtype = TORCH_DTYPES[storage]
    with torch.inference_mode():
        cls = torch.cat([o[1] for o in outs]).float().to(dtype).cpu()
        return tokens_to_host([o[0] for o in outs], dtype=dtype), as_numpy(cls)


def tokens_to_host(
    tokens: Sequence[torch.Tensor], *, dtype: torch.dtype = torch.float32
) -> np.ndarray:
    """(b, D, rows, cols) patch-token tensors as one (B, rows, cols, D) numpy array of
    ``dtype`` (bfloat16 as its uint16 bits), rounded from float32.

    On the CPU one copy per value, a blocked 2-D transpose per image. On a GPU the
    transpose and the casts run there (a compact storage halves the bytes sent), then each
    image goes through a page-locked buffer (a fast transfer) and is copied out.
    """
    _, dim, rows, cols = tokens[0].shape
    out = torch.empty((sum(len(t) for t in tokens), rows, cols, dim), dtype=dtype)
    at = 0
    for t in tokens:
        if t.device.type == "cpu":
            for image in t:
                src = image.reshape(dim, rows * cols).float()  # views when already float32
                out[at].view(rows * cols, dim).copy_(src.t())
                at += 1
        else:
            t = t.float().to(dtype).permute(0, 2, 3, 1).contiguous()
            stage = torch.empty((rows, cols, dim), dtype=dtype, pin_memory=True)
            for image in t:
                stage.copy_(image)
                out[at].copy_(stage)
                at += 1
    return as_numpy(out)
