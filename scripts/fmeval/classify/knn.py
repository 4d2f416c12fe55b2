"""Weighted k-NN classification, as in DINOv2's ``knn.py`` or DINO's ``eval_knn.py``.

Embeddings are L2-normalised; each test image's k most cosine-similar training images vote
for their class; classes are ranked by their summed votes (top-1 and top-5). ``vote``
``dinov2`` (DINOv2's ``KnnModule``): the weights are ``softmax(sim / T)`` over the largest k's
neighbours, summed over the first k, with DINOv2's operations; top-5 looks at the 5 best
classes. ``dino`` (DINO's ``knn_classifier``): weights ``exp(sim / T)``; top-5 looks at the
first min(5, k) ranked classes (:func:`knn_accuracy`). Test rows are processed in chunks sized
so that one chunk's similarity row block stays under ``chunk_bytes``: memory is the training
matrix plus one block, never the full (test x train) similarity matrix. One ``topk`` at the
largest k serves every k.
"""

import logging

import numpy as np
import torch

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 2**20


def normalise(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=1)


def knn_predict(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    *,
    ks: list[int],
    temperature: float,
    n_classes: int,
    device: str | torch.device = "cpu",
    chunk_bytes: int = CHUNK_BYTES,
    vote: str = "dino",
) -> dict[int, np.ndarray]:
    """For each k, (n_test, min(5, n_classes)) class indices ranked by weighted vote."""
    device = torch.device(device)
    train_t = normalise(torch.as_tensor(train, device=device)).T.contiguous()  # (D, N)
    labels_t = torch.as_tensor(np.asarray(train_labels), dtype=torch.long, device=device)
    n_train = train_t.shape[1]
    top_k = min(max(ks), n_train)
    rows = max(1, int(chunk_bytes // (4 * max(n_train, 1))))
    if vote == "dinov2":  # and the (rows, top_k, classes) one-hot product (int64, then float)
        rows = max(1, min(rows, int(chunk_bytes // (12 * top_k * n_classes))))
    n_rank = min(5, n_classes)
    out = {k: np.empty((len(test), n_rank), dtype=np.int64) for k in ks}
    for start in range(0, len(test), rows):
        chunk = normalise(torch.as_tensor(test[start : start + rows], device=device))
        sim = chunk @ train_t  # (B, N): the only large block
        dist, idx = sim.topk(top_k, dim=1, largest=True, sorted=True)
        del sim
        neighbours = labels_t[idx]  # (B, top_k)
        if vote == "dinov2":  # KnnModule.forward's operations, in its order
            weight = torch.nn.functional.softmax(dist / temperature, 1)
            matmul = torch.mul(
                torch.nn.functional.one_hot(neighbours, num_classes=n_classes),
                weight.view(len(chunk), -1, 1),
            )
        else:
            weight = (dist / temperature).exp()
        for k in ks:
            kk = min(k, n_train)
            if vote == "dinov2":
                votes = torch.sum(matmul[:, :kk, :], 1)
            else:
                votes = torch.zeros(len(chunk), n_classes, device=device)
                votes.scatter_add_(1, neighbours[:, :kk], weight[:, :kk])
            if vote == "dinov2":
                ranked = _torchmetrics_rank(votes, n_rank)
            else:
                ranked = votes.argsort(dim=1, descending=True, stable=True)[:, :n_rank]
            out[k][start : start + len(chunk)] = ranked.cpu().numpy()
    return out


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
