import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from fmeval.classify.knn import knn_accuracy, knn_predict

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
