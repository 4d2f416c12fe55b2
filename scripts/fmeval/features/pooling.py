"""The image embedding of a family without a CLS token: the model's own pooling head.

timm's ``forward_head(..., pre_logits=True)`` on the final-normed token sequence is what
the model itself uses as its image embedding: SigLIP's and PE's attention pool (MAP head),
AIMv2's mean of patch tokens. The patch tokens are the last block's, before the final
norm, as for every other family (fmeval.features.backbones).
"""

import torch


def pooled_forward(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Last-block patch tokens as (B, D, rows, cols) and the model's pooled embedding (B, D)."""
    final, (patches,) = model.forward_intermediates(
        x, indices=1, norm=False, output_fmt="NCHW", intermediates_only=False
    )
    return patches, model.forward_head(final, pre_logits=True)
