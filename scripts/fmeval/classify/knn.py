"""Weighted k-NN classification, as in DINO's ``eval_knn.py``.

Embeddings are L2-normalised; each test image's k most cosine-similar training images vote
for their class with weight ``exp(sim / T)``; classes are ranked by their summed votes
(top-1 and top-5). Test rows are processed in chunks sized so that one chunk's similarity
row block stays under ``chunk_bytes``: memory is the training matrix plus one block, never
the full (test x train) similarity matrix. One ``topk`` at the largest k serves every k.
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
) -> dict[int, np.ndarray]:
    """For each k, (n_test, min(5, n_classes)) class indices ranked by weighted vote."""
    device = torch.device(device)
    train_t = normalise(torch.as_tensor(train, device=device)).T.contiguous()  # (D, N)
    labels_t = torch.as_tensor(np.asarray(train_labels), dtype=torch.long, device=device)
    n_train = train_t.shape[1]
    top_k = min(max(ks), n_train)
    rows = max(1, int(chunk_bytes // (4 * max(n_train, 1))))
    n_rank = min(5, n_classes)
    out = {k: np.empty((len(test), n_rank), dtype=np.int64) for k in ks}
    for start in range(0, len(test), rows):
        chunk = normalise(torch.as_tensor(test[start : start + rows], device=device))
        sim = chunk @ train_t  # (B, N): the only large block
        dist, idx = sim.topk(top_k, dim=1, largest=True, sorted=True)
        del sim
        neighbours = labels_t[idx]  # (B, top_k)
        weight = (dist / temperature).exp()
        for k in ks:
            kk = min(k, n_train)
            votes = torch.zeros(len(chunk), n_classes, device=device)
            votes.scatter_add_(1, neighbours[:, :kk], weight[:, :kk])
            ranked = votes.argsort(dim=1, descending=True, stable=True)[:, :n_rank]
            out[k][start : start + len(chunk)] = ranked.cpu().numpy()
    return out


def knn_accuracy(ranked: np.ndarray, labels: np.ndarray, k: int) -> tuple[float, float]:
    """(top-1, top-5) accuracy in percent; as in DINO, top-5 looks at the first min(5, k)."""
    hit = ranked == np.asarray(labels)[:, None]
    return float(100 * hit[:, 0].mean()), float(100 * hit[:, : min(5, k)].any(1).mean())
