"""A running top-k over column chunks, with one rule for ties: the lower index first.

``torch.topk`` picks among equal values as its kernel happens to, which could make a
chunked k-NN differ from an unchunked one whenever similarities tie at the k-th place. Here
every selection keeps, of equal values, those of the lower (global) index, and the final
order is by value, descending, then by index: the same neighbours in the same order however
the columns were chunked. The tie check is one comparison over the block; only rows that
have a tie at the k-th value are sorted whole.
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
    k = min(k, values.shape[1])
    top, pos = values.topk(k, dim=1)
    tied = (values >= top[:, -1:]).sum(1) > k  # topk chose among equal values: redo the row
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        part = values[rows]
        order = rank_order(part, None if index is None else index[rows])[:, :k]
        top[rows], pos[rows] = part.gather(1, order), order
    return top, pos if index is None else index.gather(1, pos)


def merge_topk(
    best: tuple[torch.Tensor, torch.Tensor] | None, block: torch.Tensor, k: int, *, offset: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The running (values, indices) top-k after a block of columns ``offset`` onwards."""
    values, index = top_k(block, k)
    index = index + offset
    if best is None:
        return values, index
    return top_k(torch.cat([best[0], values], 1), k, torch.cat([best[1], index], 1))


def rank_by_value(values: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, index) sorted by value, descending, equal values by index."""
    order = rank_order(values, index)
    return values.gather(1, order), index.gather(1, order)
