import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fmeval.classify.linear import fit_probe, linear_probe

CS = [0.001, 0.01, 0.1, 1.0]


def synthetic(n_classes, n_train=300, n_test=120, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    scale = rng.uniform(0.5, 20, size=dim)  # features on different scales: standardising matters
    y_train = np.arange(n_train) % n_classes
    y_test = rng.integers(0, n_classes, n_test)
    x_train = (centres[y_train] + 1.5 * rng.normal(size=(n_train, dim))) * scale + 3
    x_test = (centres[y_test] + 1.5 * rng.normal(size=(n_test, dim))) * scale + 3
    return x_train, y_train, x_test, y_test


def converged(c):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, tol=1e-12, max_iter=100000))


@pytest.mark.parametrize("n_classes", [2, 5])
def test_probe_matches_sklearn_fitted_to_convergence(n_classes):
    x_train, y_train, x_test, _ = synthetic(n_classes)
    for c in (0.01, 1.0):
        probe = fit_probe(x_train, y_train, c, max_iter=1000, tol=1e-10)
        ref = converged(c).fit(x_train, y_train)
        want = ref.decision_function(x_test)
        got = probe.scores(x_test)
        got = got[:, 1] - got[:, 0] if n_classes == 2 else got
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        assert probe.converged


@pytest.mark.parametrize("n_classes", [2, 5])
def test_protocol_matches_the_written_out_reference(n_classes):
    x_train, y_train, x_test, y_test = synthetic(n_classes, seed=3)
    got = linear_probe(
        x_train,
        y_train,
        x_test,
        y_test,
        cs=CS,
        val_fraction=0.25,
        seed=7,
        max_iter=1000,
        tol=1e-10,
    )
    # the protocol by hand: seeded stratified validation split, best C, refit on all train
    fit, val = train_test_split(
        np.arange(len(y_train)), test_size=0.25, random_state=7, stratify=y_train
    )
    val_acc = [
        100 * converged(c).fit(x_train[fit], y_train[fit]).score(x_train[val], y_train[val])
        for c in CS
    ]
    best = CS[int(np.argmax(val_acc))]
    test_acc = 100 * converged(best).fit(x_train, y_train).score(x_test, y_test)
    assert [r["val_top1"] for r in got.rows] == pytest.approx(val_acc)
    assert got.best_c == best
    assert got.test_top1 == pytest.approx(test_acc)
    assert [r["selected"] for r in got.rows].count(True) == 1
    assert 100 / n_classes < got.test_top1 < 100
