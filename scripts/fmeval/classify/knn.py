"""Weighted k-NN classification, as in DINOv2's ``knn.py`` or DINO's ``eval_knn.py``.

Embeddings are L2-normalised; each test image's k most cosine-similar training images vote
for their class; classes are ranked by their summed votes (top-1 and top-5). ``vote``
``dinov2`` (DINOv2's ``KnnModule``): the weights are ``softmax(sim / T)`` over the largest k's
neighbours, summed over the first k, with DINOv2's operations; top-5 looks at the 5 best
classes. ``dino`` (DINO's ``knn_classifier``): weights ``exp(sim / T)``; top-5 looks at the
first min(5, k) ranked classes (:func:`knn_accuracy`). One top-k at the largest k serves
every k.

Memory holds one block of (test rows x training rows) similarities, never the full matrix:
the test rows go through in blocks, and for each block the training rows in chunks (each
chunk normalised in float32 as it is used, so an fp16 training matrix is never copied whole)
whose top-k candidates are merged into a running top-k, as ``KnnModule`` merges its ranks'.
Equal similarities go to the lower training index, whatever the blocks; the block sizes come
from the memory at hand (an execution setting: :func:`block_shape`). One block over
everything is the unchunked computation itself; other blocks change a similarity only by the
BLAS's rounding (its sums in another order).
"""

import logging

import numpy as np
import torch

from fmeval.classify.topk import merge_topk, rank_by_value
from fmeval.progress import Progress
from fmeval.runtime import available_memory

log = logging.getLogger(__name__)

MAX_BLOCK_BYTES = 2**30  # the working set's cap on a CPU: a larger block is no faster


def normalise(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=1)


def default_budget(device: torch.device) -> int:
    """Bytes for the blocks: a quarter of the free memory, at most 1 GiB (8 GiB on a GPU)."""
    if device.type == "cuda":
        return int(min(torch.cuda.mem_get_info(device)[0] // 4, 8 * MAX_BLOCK_BYTES))
    return int(min(available_memory() // 4, MAX_BLOCK_BYTES))


def block_shape(n_test: int, n_train: int, dim: int, top_k: int, budget: int) -> tuple[int, int]:
    """(test rows, training rows) per block so that one block's work fits ``budget`` bytes.

    A training chunk costs ~12 bytes per value (its rows, float32, normalised), a
    similarity 5 (float32 and a comparison), a test row 8 per value and 36 per candidate.
    """
    per_query = 8 * dim + 36 * top_k

    def cost(q: int, t: int) -> int:
        return 12 * t * dim + 5 * q * t + q * per_query

    if cost(n_test, n_train) <= budget:
        return max(n_test, 1), max(n_train, 1)
    t = int(min(n_train, max(top_k, budget // 4 // (12 * dim))))
    q = int(min(max(n_test, 1), max(1, (budget - 12 * t * dim) // (5 * t + per_query))))
    if q == n_test:  # every query in one block: the rest of the budget to the training rows
        t = int(min(n_train, max(t, (budget - q * per_query) // (12 * dim + 5 * q))))
    return q, max(t, 1)


def plan_blocks(
    n_test: int, n_train: int, dim: int, *, top_k: int, n_classes: int, vote: str, budget: int
) -> tuple[int, int, int]:
    """(vote rows, test rows, training rows): the rows of DINOv2's one-hot product at a time
    (``vote`` dinov2; in an eighth of ``budget``), then :func:`block_shape` in the rest."""
    vote_rows = 0
    if vote == "dinov2":
        vote_rows = min(max(n_test, 1), max(1, budget // (32 * top_k * n_classes)))
        budget -= 4 * vote_rows * top_k * n_classes
    return vote_rows, *block_shape(n_test, n_train, dim, top_k, budget)


def _rows(x, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Rows ``start:stop`` of an array (a read-only memmap's are copied) on ``device``."""
    part = x[start:stop]
    if isinstance(part, np.ndarray) and not part.flags.writeable:
        part = np.array(part)
    return torch.as_tensor(part, device=device)


def _on_device(x, device: torch.device, rows: int) -> torch.Tensor:
    """The whole array on ``device``, in its own type, copied ``rows`` rows at a time."""
    out = torch.empty(x.shape, dtype=torch.from_numpy(np.empty(0, x.dtype)).dtype, device=device)
    for start in range(0, len(x), rows):
        out[start : start + rows] = _rows(x, start, start + rows, device)
    return out


def knn_predict(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    *,
    ks: list[int],
    temperature: float,
    n_classes: int,
    device: str | torch.device = "cpu",
    chunk_bytes: int | None = None,
    vote: str = "dino",
    blocks: tuple[int, int] | None = None,
) -> dict[int, np.ndarray]:
    """For each k, (n_test, min(5, n_classes)) class indices ranked by weighted vote.

    ``train`` and ``test`` are (N, D) arrays of any float type (an fp16 memmap is read chunk
    by chunk). ``chunk_bytes``: the blocks' memory (default :func:`default_budget`);
    ``blocks``: (test rows, training rows) per block, instead. Neither changes a prediction
    beyond the BLAS's rounding (see the module's note).
    """
    device = torch.device(device)
    n_train, dim = train.shape
    labels_t = torch.as_tensor(np.asarray(train_labels), dtype=torch.long, device=device)
    top_k = min(max(ks), n_train)
    budget = default_budget(device) if chunk_bytes is None else int(chunk_bytes)
    shape = dict(top_k=top_k, n_classes=n_classes, vote=vote, budget=budget)
    vote_rows, q_rows, t_rows = plan_blocks(len(test), n_train, dim, **shape)
    q_rows, t_rows = blocks or (q_rows, t_rows)
    scratch = torch.zeros(vote_rows, top_k, n_classes, device=device) if vote_rows else None
    # the whole training matrix on the GPU, in its own type (fp16: half), when it fits a budget
    resident = device.type == "cuda" and train.nbytes <= default_budget(device)
    source = _on_device(train, device, t_rows) if resident else train
    one_block = t_rows >= n_train
    if one_block:  # the unchunked computation: the normalised matrix, transposed once
        train_t = normalise(_rows(source, 0, n_train, device)).T.contiguous()
    n_rank = min(5, n_classes)
    out = {k: np.empty((len(test), n_rank), dtype=np.int64) for k in ks}
    progress = Progress(len(test), label="k-NN", unit="queries", log=log)
    log.info(
        "k-NN: %d queries x %d training rows (D=%d) in blocks of %d x %d on %s",
        len(test), n_train, dim, q_rows, t_rows, device,
    )  # fmt: skip
    for start in range(0, len(test), q_rows):
        chunk = normalise(_rows(test, start, start + q_rows, device))
        best = None
        for t0 in range(0, n_train, t_rows):
            if not one_block:
                train_t = normalise(_rows(source, t0, t0 + t_rows, device)).T
            sim = chunk @ train_t  # (B, T): the only large block
            best = merge_topk(best, sim, top_k, offset=t0)
            del sim
            done = start + len(chunk) * min(t0 + t_rows, n_train) // n_train
            progress.update(done - progress.done)
        dist, idx = rank_by_value(*best)
        votes = _votes(dist, labels_t[idx], ks, temperature, n_classes, vote, scratch)
        for k, ranked in votes:
            out[k][start : start + len(chunk)] = ranked.cpu().numpy()
    return out


def _votes(dist, neighbours, ks, temperature, n_classes, vote, scratch=None):
    """(k, (B, n_rank) ranked classes) for each k, from (B, top_k) sorted neighbours.

    ``dinov2``: DINOv2's ``one_hot(labels) * weight`` product (B, top_k, classes), summed
    over the first k: the same tensor, built by scattering the weights into ``scratch`` (a
    zero (rows, top_k, classes) buffer, left zero again), its rows ``rows`` at a time: the
    int64 one-hot and the product cost 5x more at ImageNet's 1,000 classes.
    """
    top_k = dist.shape[1]
    n_rank = min(5, n_classes)
    rows = len(dist) if scratch is None else len(scratch)
    parts: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for s in range(0, len(dist), rows):
        d, nb = dist[s : s + rows], neighbours[s : s + rows]
        if vote == "dinov2":  # KnnModule.forward's operations, in its order
            weight = torch.nn.functional.softmax(d / temperature, 1)
            matmul = scratch[: len(d)].scatter_(2, nb[:, :, None], weight[:, :, None])
        else:
            weight = (d / temperature).exp()
        for k in ks:
            kk = min(k, top_k)
            if vote == "dinov2":
                parts[k].append(_torchmetrics_rank(torch.sum(matmul[:, :kk, :], 1), n_rank))
            else:
                votes = torch.zeros(len(d), n_classes, device=d.device)
                votes.scatter_add_(1, nb[:, :kk], weight[:, :kk])
                ranked = votes.argsort(dim=1, descending=True, stable=True)[:, :n_rank]
                parts[k].append(ranked)
        if vote == "dinov2":
            matmul.scatter_(2, nb[:, :, None], 0.0)
    return [(k, torch.cat(parts[k])) for k in ks]


def _torchmetrics_rank(votes: torch.Tensor, n: int) -> torch.Tensor:
    """(B, n) classes as DINOv2's torchmetrics accuracy picks them: the first the ``argmax``
    (its top-1), then ``topk(n)``'s others (its top-5 set; among classes of equal votes, e.g.
    those no neighbour voted for, the same ones ``topk`` picks)."""
    best = votes.argmax(dim=1, keepdim=True)
    if n == 1:
        return best
    top = votes.topk(n, dim=1).indices
    # topk's classes with the argmax moved last (stable), so the first n - 1 are the others
    last = torch.argsort((top == best).to(torch.int8), dim=1, stable=True)
    return torch.cat([best, torch.gather(top, 1, last)[:, : n - 1]], 1)


def knn_accuracy(
    ranked: np.ndarray, labels: np.ndarray, k: int, *, vote: str = "dino"
) -> tuple[float, float]:
    """(top-1, top-5) accuracy in percent; as in DINO, top-5 looks at the first min(5, k)
    ranked classes; as in DINOv2 (``vote`` dinov2), at the first 5 (or every class, if fewer)."""
    hit = ranked == np.asarray(labels)[:, None]
    top5 = hit if vote == "dinov2" else hit[:, : min(5, k)]
    return float(100 * hit[:, 0].mean()), float(100 * top5.any(1).mean())
