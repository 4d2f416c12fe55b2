"""A running top-k over column chunks, with one rule for ties: the lower index first.

``torch.topk`` picks among equal values as its kernel happens to, which could make a
chunked k-NN differ from an unchunked one whenever similarities tie at the k-th place. Here
every selection keeps, of equal values, those of the lower (global) index, and the final
order is by value, descending, then by index: the same neighbours in the same order however
the columns were chunked. A row is sorted whole only when its (k+1)-th value equals its k-th.

Once a row holds k candidates, a later chunk's column can enter only if it beats the row's
k-th value (an equal one has the higher index), so :func:`merge_topk` selects among those
columns alone: one comparison over the block instead of a ``topk`` of it (at ImageNet size,
as slow per value as the similarity GEMM itself).
"""

import torch


def rank_order(values: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    """Each row's permutation by value (descending), equal values by ``index`` (ascending;
    default: the column)."""
    if index is None:
        return values.argsort(dim=1, descending=True, stable=True)
    by_index = index.argsort(dim=1)
    by_value = values.gather(1, by_index).argsort(dim=1, descending=True, stable=True)
    return by_index.gather(1, by_value)


def top_k(
    values: torch.Tensor, k: int, index: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest of each row and their ``index`` (default: the column); of values
    equal to the k-th, those of the lower index. Not sorted among equal values."""
    width = values.shape[1]
    if k >= width:  # every column: nothing to choose
        pos = torch.arange(width, device=values.device).expand(len(values), -1)
        return values, pos if index is None else index
    top, pos = values.topk(k + 1, dim=1)
    tied = top[:, k] == top[:, k - 1]  # topk chose among values equal to the k-th
    top, pos = top[:, :k], pos[:, :k]
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        part = values[rows]
        order = rank_order(part, None if index is None else index[rows])[:, :k]
        top[rows], pos[rows] = part.gather(1, order), order
    return top, pos if index is None else index.gather(1, pos)


def merge_topk(
    best: tuple[torch.Tensor, torch.Tensor] | None, block: torch.Tensor, k: int, *, offset: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The running (values, indices) top-k after a block of columns ``offset`` onwards (all
    above the indices in ``best``)."""
    if best is not None and best[0].shape[1] >= k:
        rows, cols = (block > best[0].min(1, keepdim=True).values).nonzero(as_tuple=True)
        counts = torch.bincount(rows, minlength=len(block))
        width = int(counts.max()) if len(rows) else 0
        if width == 0:
            return best
        if width <= block.shape[1] // 4:  # the few columns that can enter, padded per row
            pos = torch.arange(len(rows), device=block.device) - (counts.cumsum(0) - counts)[rows]
            values = block.new_full((len(block), width), -torch.inf)
            values[rows, pos] = block[rows, cols]
            index = torch.full_like(values, torch.iinfo(torch.int64).max, dtype=torch.int64)
            index[rows, pos] = cols + offset
            return top_k(torch.cat([best[0], values], 1), k, torch.cat([best[1], index], 1))
    values, index = top_k(block, k)
    index = index + offset
    if best is None:
        return values, index
    return top_k(torch.cat([best[0], values], 1), k, torch.cat([best[1], index], 1))


def rank_by_value(values: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, index) sorted by value, descending, equal values by index."""
    order = rank_order(values, index)
    return values.gather(1, order), index.gather(1, order)
