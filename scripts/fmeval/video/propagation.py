"""Label propagation by k-NN on patch features, in the form of a named protocol.

Each frame's soft labels are a weighted vote of its ``topk`` most similar source patches
(cosine similarity), taken from the first frame (with its given mask) and the last
``n_last_frames`` predicted frames (with their soft predictions), and only from source
patches within ``size_mask_neighborhood`` patches of the query (0 = no restriction).
Two forms of the vote (``fmeval.video.protocol``), each computed in the order of its
reference so that the masks are the reference's:

- ``exp`` (DINO ``label_propagation``): ``exp(sim / T)``, multiplied by the 0/1
  neighbourhood, zeroed below the k-th largest over all sources, divided by its sum;
- ``softmax`` (DINOv3 notebook ``propagate``): ``sim`` set to -inf outside the
  neighbourhood and below the k-th largest, ``softmax(sim / T)``, the result renormalised.

Queries are taken in chunks so that the (sources x queries) affinities stay small.
"""

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from fmeval.errors import ConfigError
from fmeval.video.protocol import PROTOCOLS, Protocol

CPU = torch.device("cpu")
CHUNK_ELEMENTS = 2**26  # affinities per chunk of queries (256 MB of float32)


def neighbourhood(
    rows: int, cols: int, size: int, *, device: torch.device, shape: str = "square"
) -> torch.Tensor:
    """(P, P) bool: True where source patch j lies within ``size`` patches of query i."""
    r, c = torch.meshgrid(
        torch.arange(rows, device=device), torch.arange(cols, device=device), indexing="ij"
    )
    r, c = r.reshape(-1), c.reshape(-1)
    if size <= 0:
        return torch.ones(len(r), len(r), dtype=torch.bool, device=device)
    dr, dc = (r[:, None] - r[None, :]).abs(), (c[:, None] - c[None, :]).abs()
    if shape == "circle":
        return (dr * dr + dc * dc).float().sqrt() <= size
    return (dr <= size) & (dc <= size)


def one_hot(labels: np.ndarray, ids: list[int]) -> torch.Tensor:
    """(rows * cols, len(ids)) one-hot rows of a grid label map, channel k for object ``ids[k]``."""
    flat = torch.as_tensor(np.asarray(labels).reshape(-1).astype(np.int64))
    out = torch.zeros(len(flat), len(ids))
    for k, obj in enumerate(ids):
        out[:, k] = (flat == obj).float()
    return out


def _tensor(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A float32 tensor on ``device`` (read-only arrays, e.g. Arrow views, are copied first)."""
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(np.require(x, dtype=np.float32, requirements=["W"]))
    return x.to(device=device, dtype=torch.float32)


def keys_exp(raw: list[torch.Tensor]) -> torch.Tensor:
    """(S, D, P): DINO normalises the stacked (D, P) source features along D at every step."""
    return F.normalize(torch.stack([f.T for f in raw]), dim=1, p=2)


def keys_softmax(raw: list[torch.Tensor]) -> torch.Tensor:
    """(S, P, D): the notebook's features, normalised once per frame (along D)."""
    return torch.stack([F.normalize(f, dim=1, p=2) for f in raw])


def vote_exp(query, keys, values, near, *, topk: int, temperature: float) -> torch.Tensor:
    """(Q, C): DINO's vote for a chunk of Q queries over S context frames of P patches.

    ``query`` (Q, D) is L2-normalised, ``keys`` from :func:`keys_exp`, ``values``
    (S * P, C), ``near`` (Q, P) the neighbourhood rows of these queries.
    """
    n_ctx = keys.shape[0]
    aff = torch.exp(torch.bmm(query.unsqueeze(0).repeat(n_ctx, 1, 1), keys) / temperature)
    aff *= near.unsqueeze(0).float()  # (S, Q, P)
    aff = aff.transpose(2, 1).reshape(-1, query.shape[0])  # (S * P, Q)
    kth = torch.min(torch.topk(aff, dim=0, k=topk).values, dim=0).values
    aff.masked_fill_(aff < kth, 0)  # DINO: aff[aff < tk_val_min] = 0
    aff = aff / torch.sum(aff, keepdim=True, dim=0)
    return torch.mm(values.T, aff).T


def vote_softmax(query, keys, values, near, *, topk: int, temperature: float) -> torch.Tensor:
    """(Q, C): the DINOv3 notebook's vote (``keys`` from :func:`keys_softmax`)."""
    dot = torch.einsum("qd,spd->qsp", query, keys)
    dot = torch.where(near[:, None, :], dot, -torch.inf).flatten(1)  # (Q, S * P)
    kth = torch.topk(dot, dim=1, k=topk).values[:, -1:]
    dot = torch.where(dot >= kth, dot, -torch.inf)
    probs = torch.mm(F.softmax(dot / temperature, dim=1), values)
    return probs / probs.sum(dim=1, keepdim=True)


VOTES = {"exp": (keys_exp, vote_exp), "softmax": (keys_softmax, vote_softmax)}


def check_candidates(near: torch.Tensor, topk: int) -> None:
    """Every query must have ``topk`` source patches on the first frame alone."""
    fewest = int(near.sum(1).min())
    if topk > fewest:
        raise ConfigError(
            f"video.propagate.topk is {topk} but a patch has only {fewest} source patches in "
            "its neighbourhood on this grid; lower topk or raise size_mask_neighborhood"
        )


@torch.inference_mode()
def propagate(
    features: Iterable[np.ndarray | torch.Tensor],
    first_labels: torch.Tensor,
    *,
    grid: tuple[int, int],
    protocol: Protocol = PROTOCOLS["dino"],
    device: torch.device = CPU,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> Iterator[torch.Tensor]:
    """Soft labels (P, C) of every frame, the first being ``first_labels`` itself.

    ``features`` yields each frame's (P, D) patch features in row-major grid order
    (P = rows * cols); ``first_labels`` is the first frame's (P, C) one-hot labels.
    """
    make_keys, vote = VOTES[protocol.weighting]
    frames = iter(features)
    first = _tensor(next(frames), device)
    labels0 = first_labels.to(device).float()
    n_patches = first.shape[0]
    if n_patches != grid[0] * grid[1] or labels0.shape[0] != n_patches:
        raise ValueError(
            f"grid {grid} does not match {n_patches} patches / {labels0.shape[0]} labels"
        )
    near = neighbourhood(
        *grid, protocol.size_mask_neighborhood, device=device, shape=protocol.neighborhood_shape
    )
    check_candidates(near, protocol.topk)
    recent: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=protocol.n_last_frames)
    yield labels0.cpu()
    for feat in frames:
        raw = _tensor(feat, device)
        query = F.normalize(raw, dim=1, p=2)
        sources = [(first, labels0), *recent]
        keys = make_keys([f for f, _ in sources])
        values = torch.cat([v for _, v in sources])  # (S * P, C)
        step = max(1, chunk_elements // (len(sources) * n_patches))
        soft = torch.cat(
            [
                vote(
                    query[i : i + step],
                    keys,
                    values,
                    near[i : i + step],
                    topk=protocol.topk,
                    temperature=protocol.temperature,
                )
                for i in range(0, n_patches, step)
            ]
        )
        if protocol.n_last_frames:
            recent.append((raw, soft))
        yield soft.cpu()
