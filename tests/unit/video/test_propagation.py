"""Label propagation: the neighbourhood, the k-NN vote and a synthetic moving disc."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from synthetic_video import PATCH, moving_disc, pixel_patches

from fmeval.errors import ConfigError
from fmeval.video.masks import to_frame, to_grid
from fmeval.video.metrics import region_similarity
from fmeval.video.propagation import neighbourhood, one_hot, propagate
from fmeval.video.protocol import PROTOCOLS

FORMS = sorted(PROTOCOLS)


def proto(name: str = "dino", **values):
    return replace(PROTOCOLS[name], **values)


def test_neighbourhood_matches_the_loop_definition():
    rows, cols, size = 4, 5, 1
    near = neighbourhood(rows, cols, size, device=torch.device("cpu")).numpy()
    expected = np.zeros((rows, cols, rows, cols), dtype=bool)
    for i, j in itertools.product(range(rows), range(cols)):
        for p, q in itertools.product(range(2 * size + 1), repeat=2):
            a, b = i - size + p, j - size + q
            if 0 <= a < rows and 0 <= b < cols:
                expected[i, j, a, b] = True
    np.testing.assert_array_equal(near, expected.reshape(rows * cols, rows * cols))
    assert neighbourhood(2, 3, 0, device=torch.device("cpu")).all()  # 0: no restriction


def test_circle_neighbourhood_is_the_euclidean_disc():
    rows, cols, size = 7, 9, 2.0
    near = neighbourhood(rows, cols, 2, device=torch.device("cpu"), shape="circle").numpy()
    for i, j, a, b in itertools.product(range(rows), range(cols), range(rows), range(cols)):
        inside = (i - a) ** 2 + (j - b) ** 2 <= size**2
        assert near[i * cols + j, a * cols + b] == inside


@pytest.mark.parametrize("name", FORMS)
def test_vote_is_a_softmax_over_the_topk(name):
    # Two source patches with labels A and B; the query is closer to A.
    feats0 = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    query = np.array([[0.8, 0.6], [0.8, 0.6]], dtype=np.float32)
    labels0 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = list(
        propagate(
            [feats0, query],
            labels0,
            grid=(1, 2),
            protocol=proto(
                name, n_last_frames=0, size_mask_neighborhood=0, topk=2, temperature=0.5
            ),
        )
    )
    sims = np.array([0.8, 0.48 + 0.48])  # cosine of the query with patch A and with patch B
    w = np.exp(sims / 0.5) / np.exp(sims / 0.5).sum()
    np.testing.assert_allclose(out[1].numpy(), [w, w], rtol=1e-5)
    torch.testing.assert_close(out[0], labels0)


@pytest.mark.parametrize("name", FORMS)
def test_topk_one_copies_the_nearest_label(name):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(6, 8)).astype(np.float32)
    labels = one_hot(rng.integers(0, 3, size=(2, 3)).astype(np.uint8), [0, 1, 2])
    out = list(
        propagate(
            [feats, feats, feats],
            labels,
            grid=(2, 3),
            protocol=proto(name, n_last_frames=1, size_mask_neighborhood=1, topk=1),
        )
    )
    for soft in out:
        torch.testing.assert_close(soft, labels)


def test_topk_beyond_the_grid_is_one_clear_error():
    # plan time cannot know the grid: a 1 x 2 grid has 2 candidates for top-5
    with pytest.raises(ConfigError, match=r"^video.propagate.topk is 5 but a patch has only 2 "):
        list(propagate([np.ones((2, 2))] * 2, torch.ones(2, 1), grid=(1, 2)))


@pytest.mark.parametrize("name", FORMS)
def test_moving_disc_is_tracked(name):
    frames, masks = moving_disc()
    grid = (frames.shape[1] // PATCH, frames.shape[2] // PATCH)
    first = one_hot(to_grid(masks[0], grid), [0, 1])
    soft = propagate(
        (pixel_patches(f) for f in frames),
        first,
        grid=grid,
        protocol=PROTOCOLS[name],
    )
    size = (masks.shape[2], masks.shape[1])
    js = [
        region_similarity(m == 1, to_frame(s, [0, 1], grid=grid, patch_size=PATCH, size=size) == 1)
        for s, m in zip(soft, masks)
    ]
    assert len(js) == len(frames)
    assert min(js[1:]) > 0.9, js
