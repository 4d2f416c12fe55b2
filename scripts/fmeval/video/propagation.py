"""Label propagation by k-NN on patch features: the DINO video-segmentation protocol.

Each frame's soft labels are a weighted vote of its ``topk`` most similar source patches
(cosine similarity), taken from the first frame (with its given mask) and the last
``n_last_frames`` predicted frames (with their soft predictions), and only from source
patches within ``size_mask_neighborhood`` patches of the query (Chebyshev distance;
0 = no restriction). The votes are ``exp(similarity / temperature)``, normalised over
the ``topk`` kept, which is a softmax over them.
"""

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from fmeval.errors import ConfigError

CPU = torch.device("cpu")


def neighbourhood(rows: int, cols: int, size: int, *, device: torch.device) -> torch.Tensor:
    """(P, P) bool: True where source patch j lies within ``size`` patches of query i."""
    r, c = torch.meshgrid(
        torch.arange(rows, device=device), torch.arange(cols, device=device), indexing="ij"
    )
    r, c = r.reshape(-1), c.reshape(-1)
    if size <= 0:
        return torch.ones(len(r), len(r), dtype=torch.bool, device=device)
    return ((r[:, None] - r[None, :]).abs() <= size) & ((c[:, None] - c[None, :]).abs() <= size)


def one_hot(labels: np.ndarray, ids: list[int]) -> torch.Tensor:
    """(rows * cols, len(ids)) one-hot rows of a grid label map, channel k for object ``ids[k]``."""
    flat = torch.as_tensor(np.asarray(labels).reshape(-1).astype(np.int64))
    out = torch.zeros(len(flat), len(ids))
    for k, obj in enumerate(ids):
        out[:, k] = (flat == obj).float()
    return out


def check_options(
    *, n_last_frames: int, size_mask_neighborhood: int, topk: int, temperature: float
) -> None:
    if n_last_frames < 0 or size_mask_neighborhood < 0 or topk < 1 or not temperature > 0:
        raise ConfigError(
            f"bad propagation options (n_last_frames={n_last_frames}, size_mask_neighborhood="
            f"{size_mask_neighborhood}, topk={topk}, temperature={temperature}); "
            "set video.propagate: n_last_frames >= 0, size_mask_neighborhood >= 0, topk >= 1, "
            "temperature > 0"
        )


def _tensor(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A float32 tensor on ``device`` (read-only arrays, e.g. Arrow views, are copied first)."""
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(np.require(x, dtype=np.float32, requirements=["W"]))
    return x.to(device=device, dtype=torch.float32)


@torch.inference_mode()
def propagate(
    features: Iterable[np.ndarray | torch.Tensor],
    first_labels: torch.Tensor,
    *,
    grid: tuple[int, int],
    n_last_frames: int = 7,
    size_mask_neighborhood: int = 12,
    topk: int = 5,
    temperature: float = 0.7,
    device: torch.device = CPU,
) -> Iterator[torch.Tensor]:
    """Soft labels (P, C) of every frame, the first being ``first_labels`` itself.

    ``features`` yields each frame's (P, D) patch features in row-major grid order
    (P = rows * cols); ``first_labels`` is the first frame's (P, C) one-hot labels.
    """
    check_options(
        n_last_frames=n_last_frames,
        size_mask_neighborhood=size_mask_neighborhood,
        topk=topk,
        temperature=temperature,
    )
    frames = iter(features)
    first = F.normalize(_tensor(next(frames), device), dim=1)
    labels0 = first_labels.to(device).float()
    n_patches = first.shape[0]
    if n_patches != grid[0] * grid[1] or labels0.shape[0] != n_patches:
        raise ValueError(
            f"grid {grid} does not match {n_patches} patches / {labels0.shape[0]} labels"
        )
    near = neighbourhood(*grid, size_mask_neighborhood, device=device)
    recent: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=n_last_frames)
    yield labels0.cpu()
    for feat in frames:
        query = F.normalize(_tensor(feat, device), dim=1)
        sources = [(first, labels0), *recent]
        keys = torch.stack([k for k, _ in sources])  # (S, P, D)
        values = torch.cat([v for _, v in sources])  # (S * P, C)
        sim = torch.einsum("pd,sqd->psq", query, keys)  # (P, S, P)
        sim = sim.masked_fill(~near[:, None, :], float("-inf")).reshape(n_patches, -1)
        top, index = sim.topk(min(topk, sim.shape[1]), dim=1)
        weights = torch.softmax(top / temperature, dim=1)  # (P, k)
        soft = torch.einsum("pk,pkc->pc", weights, values[index])
        recent.append((query, soft))
        yield soft.cpu()
