import logging
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from fmeval.classify import knn
from fmeval.classify.knn import block_shape, knn_accuracy, knn_predict
from fmeval.classify.topk import merge_topk, rank_by_value
from fmeval.progress import Progress

T = 0.07


def synthetic(n_train=600, n_test=150, dim=32, n_classes=7, seed=0):
    """Class-clustered embeddings, noisy enough that accuracy is neither 0 nor 100."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    y_train = rng.integers(0, n_classes, n_train)
    y_test = rng.integers(0, n_classes, n_test)
    x_train = centres[y_train] + 2.0 * rng.normal(size=(n_train, dim))
    x_test = centres[y_test] + 2.0 * rng.normal(size=(n_test, dim))
    return x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test


def reference(x_train, y_train, x_test, y_test, k, n_classes):
    """DINO's weighted vote written out, neighbours from scikit-learn (cosine metric)."""
    nn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x_train)
    dist, idx = nn.kneighbors(x_test)
    sim = 1.0 - dist  # cosine similarity of the k nearest training rows
    top1 = top5 = 0
    for i in range(len(x_test)):
        votes = np.zeros(n_classes)
        for s, j in zip(sim[i], idx[i]):
            votes[y_train[j]] += np.exp(s / T)
        order = np.argsort(-votes, kind="stable")
        top1 += order[0] == y_test[i]
        top5 += y_test[i] in order[: min(5, k)]
    return 100.0 * top1 / len(x_test), 100.0 * top5 / len(x_test)


def test_knn_matches_the_direct_reference_for_every_k():
    x_train, y_train, x_test, y_test = synthetic()
    ks = [1, 3, 10, 20, 100]
    ranked = knn_predict(x_train, y_train, x_test, ks=ks, temperature=T, n_classes=7)
    for k in ks:
        got = knn_accuracy(ranked[k], y_test, k)
        want = reference(x_train, y_train, x_test, y_test, k, 7)
        assert got == pytest.approx(want, abs=1e-9), k
    # the figures are informative: above chance, below perfect
    assert 100 / 7 < knn_accuracy(ranked[20], y_test, 20)[0] < 100


def test_chunking_does_not_change_predictions():
    x_train, y_train, x_test, y_test = synthetic(seed=1)
    whole = knn_predict(x_train, y_train, x_test, ks=[10, 20], temperature=T, n_classes=7)
    # 3 test rows per chunk: many chunks, the last one short
    small = knn_predict(
        x_train,
        y_train,
        x_test,
        ks=[10, 20],
        temperature=T,
        n_classes=7,
        chunk_bytes=3 * 4 * len(x_train),
    )
    for k in (10, 20):
        np.testing.assert_array_equal(whole[k], small[k])


def test_k_larger_than_the_training_set_uses_every_image():
    x_train, y_train, x_test, y_test = synthetic(n_train=30, n_test=20, seed=2)
    ranked = knn_predict(x_train, y_train, x_test, ks=[30, 200], temperature=T, n_classes=7)
    np.testing.assert_array_equal(ranked[30], ranked[200])


def sign_vectors(n, dim=16, distinct=6, seed=0):
    """Rows drawn from a few +-1 vectors: their cosine similarities are multiples of 1/dim,
    exact in any summation order, so many tie (within and across blocks)."""
    rng = np.random.default_rng(seed)
    base = rng.choice([-1.0, 1.0], size=(distinct, dim)).astype(np.float32)
    return base[rng.integers(0, distinct, n)]


@pytest.mark.parametrize("vote", ["dino", "dinov2"])
@pytest.mark.parametrize("data", ["ties", "continuous"])
def test_any_blocks_give_the_unchunked_predictions(vote, data):
    rng = np.random.default_rng(4)
    if data == "ties":
        x_train, x_test = sign_vectors(300, seed=1), sign_vectors(40, seed=2)
        y_train = rng.integers(0, 5, len(x_train))
    else:
        x_train, y_train, x_test, _ = synthetic(n_train=300, n_test=40, n_classes=5, seed=5)
    kw = {"ks": [1, 5, 20, 100], "temperature": T, "n_classes": 5, "vote": vote}
    whole = knn_predict(x_train, y_train, x_test, blocks=(len(x_test), len(x_train)), **kw)
    for _ in range(8):  # blocks of any size, some smaller than k
        blocks = (int(rng.integers(1, 45)), int(rng.integers(1, 320)))
        chunked = knn_predict(x_train, y_train, x_test, blocks=blocks, **kw)
        for k in kw["ks"]:
            np.testing.assert_array_equal(whole[k], chunked[k], err_msg=f"{blocks} k={k}")
    # the default (memory-derived) blocks: the same
    default = knn_predict(x_train, y_train, x_test, **kw)
    for k in kw["ks"]:
        np.testing.assert_array_equal(whole[k], default[k])


def test_equal_similarities_go_to_the_lower_training_index():
    x = sign_vectors(1, seed=3)
    x_train = np.repeat(x, 6, axis=0)  # six copies: all tie with the query
    y_train = np.array([2, 2, 1, 1, 1, 0])
    for blocks in [(1, 6), (1, 1), (1, 4)]:
        ranked = knn_predict(
            x_train, y_train, x, ks=[1, 2, 5], temperature=T, n_classes=3, blocks=blocks
        )
        assert ranked[1][0, 0] == ranked[2][0, 0] == 2  # the first copies' class
        assert ranked[5][0, 0] == 1  # the first five: class 1 has three


@pytest.mark.parametrize("values", ["ties", "continuous"])
def test_running_top_k_equals_a_stable_sort(values):
    rng = np.random.default_rng(8)
    if values == "ties":  # many equal values, at the k-th place too
        x = torch.as_tensor(rng.integers(0, 6, (20, 400)).astype(np.float32))
    else:  # after the first chunks few columns beat the k-th: the sparse merge
        x = torch.as_tensor(rng.normal(size=(20, 400)).astype(np.float32))
    order = torch.argsort(-x, dim=1, stable=True)[:, :15]
    for width in (13, 60):
        best = None
        for start in range(0, 400, width):
            best = merge_topk(best, x[:, start : start + width], 15, offset=start)
        got_values, got_index = rank_by_value(*best)
        torch.testing.assert_close(got_index, order)
        torch.testing.assert_close(got_values, x.gather(1, order))


def test_a_memmapped_fp16_matrix_equals_its_float32_values(tmp_path):
    x_train, y_train, x_test, _ = synthetic(n_train=200, n_test=30, seed=6)
    half = np.lib.format.open_memmap(tmp_path / "train.npy", "w+", np.float16, x_train.shape)
    half[:] = x_train
    half.flush()
    stored = np.load(tmp_path / "train.npy", mmap_mode="r")  # read-only, as a reader maps it
    kw = {"ks": [5, 20], "temperature": T, "n_classes": 7}
    got = knn_predict(stored, y_train, x_test.astype(np.float16), blocks=(7, 50), **kw)
    want = knn_predict(
        stored.astype(np.float32), y_train, x_test.astype(np.float16).astype(np.float32), **kw
    )
    for k in (5, 20):
        np.testing.assert_array_equal(got[k], want[k])


def test_block_shape_fits_the_budget_at_imagenet_size():
    n_test, n_train, dim, top_k, budget = 50_000, 1_281_167, 1024, 200, 2**30
    q, t = block_shape(n_test, n_train, dim, top_k, budget)
    assert 1 <= q < n_test and top_k <= t < n_train
    assert 12 * t * dim + 5 * q * t + q * (8 * dim + 36 * top_k) <= budget
    assert q * t * 4 > budget / 4  # the similarity block uses a good part of it
    # a small problem is one block: the unchunked computation
    assert block_shape(150, 600, 32, 100, budget) == (150, 600)


def test_progress_lines_count_the_queries(monkeypatch, caplog):
    monkeypatch.setattr(knn, "Progress", partial(Progress, every=0))
    x_train, y_train, x_test, _ = synthetic(n_train=100, n_test=30, seed=7)
    with caplog.at_level(logging.INFO, logger="fmeval"):
        knn_predict(x_train, y_train, x_test, ks=[5], temperature=T, n_classes=7, blocks=(8, 40))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("k-NN: ")]
    done = [int(line.split()[1].split("/")[0]) for line in lines if "queries (" in line]
    assert all(line.split()[1].endswith("/30") for line in lines if "queries (" in line)
    # 4 test blocks x 3 training chunks, each a fraction of its block's queries
    assert len(done) == 12 and done == sorted(done) and done[-1] == 30 and done[0] < 8
    assert "done in" in lines[-1]
