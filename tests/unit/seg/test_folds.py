"""K-fold CV of the probe: scikit-learn's GroupKFold pipeline, chunking, and its memory."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fmeval.errors import ConfigError
from fmeval.seg.cv import cross_validate
from fmeval.seg.folds import LOO_MAX, assign_folds
from fmeval.seg.probe import ProbeData


def synthetic(seed: int, *, n_images: int, per_image: int = 30, dim: int = 5) -> ProbeData:
    """A noisy linear foreground rule over features with varied scales and offsets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_images * per_image, dim)) * rng.uniform(0.1, 10, dim)
    x += rng.normal(0, 5, dim)
    score = ((x - x.mean(0)) / x.std(0)) @ rng.normal(size=dim) + rng.normal(0, 1.5, len(x))
    y = (score > np.quantile(score, 0.7)).astype(np.int64)
    images = [f"im{i:03d}" for i in rng.permutation(n_images)]  # not in name order
    return ProbeData(x.astype(np.float32), y, np.repeat(np.arange(n_images), per_image), images)


def sklearn_kfold(data: ProbeData, cs, *, k: int, seed: int) -> dict:
    """{frozenset(held-out images): [AP per C]}: GroupKFold + the pipeline, converged, float64."""
    names = np.asarray(data.images)[data.image]
    x = data.x.astype(np.float64)
    out = {}
    for train, test in GroupKFold(k, shuffle=True, random_state=seed).split(x, data.y, names):
        aps = []
        for c in cs:
            clf = make_pipeline(
                StandardScaler(),
                LogisticRegression(C=c, solver="newton-cholesky", tol=1e-12, max_iter=1000),
            ).fit(x[train], data.y[train])
            aps.append(average_precision_score(data.y[test], clf.predict_proba(x[test])[:, 1]))
        out[frozenset(names[test])] = aps
    return out


@pytest.mark.parametrize(("k", "seed"), [(5, 0), (10, 7)])
def test_kfold_equals_sklearn_groupkfold(k, seed):
    data = synthetic(seed, n_images=24)
    cs = [0.01, 1.0, 100.0]
    folds = assign_folds(data.images, cv="kfold", k=k, seed=seed)
    ours = cross_validate(data, cs, max_iter=10000, folds=folds)
    ref = sklearn_kfold(data, cs, k=k, seed=seed)
    assert len(ours) == k * len(cs) and set(ours["fold"]) == set(range(k))
    assert sorted(n for f in range(k) for n in folds.images_of(f, data.images)) == sorted(
        data.images
    )
    for row in ours.itertuples():
        held = frozenset(row.images)
        assert held in ref, "our folds are GroupKFold's"
        assert abs(row.ap - ref[held][cs.index(row.C)]) < 1e-6
        assert row.n_test == 30 * len(held) and row.image == f"fold-{row.fold}"
    assert ours["converged"].all()


def test_auto_scheme_and_bad_k():
    names = [f"im{i}" for i in range(LOO_MAX + 1)]
    assert assign_folds(names[:LOO_MAX]).scheme == "loo"
    auto = assign_folds(names, seed=1)
    assert auto.scheme == "kfold" and auto.k == 10 and set(auto.fold_of) == set(range(10))
    assert (assign_folds(names, seed=1).fold_of == auto.fold_of).all()  # seeded
    assert (assign_folds(names, seed=2).fold_of != auto.fold_of).any()
    with pytest.raises(ConfigError, match="probe.folds is 30 but there are 21 training images"):
        assign_folds(names, cv="kfold", k=30)


def test_chunked_folds_equal_one_chunk():
    data = synthetic(3, n_images=12)
    cs = [0.1, 10.0]
    whole = cross_validate(data, cs, max_iter=10000)  # loo, one chunk
    tiny = cross_validate(data, cs, max_iter=10000, budget_bytes=data.x.nbytes + 1)
    np.testing.assert_allclose(tiny["ap"], whole["ap"], atol=1e-12)


MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from fmeval.seg.cv import cross_validate
    from fmeval.seg.probe import ProbeData
    n_images, per_image, dim, budget = (float(v) for v in sys.argv[1:])
    n_images, per_image, dim = int(n_images), int(per_image), int(dim)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_images * per_image, dim)).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=len(x)) > 0.5).astype(np.int64)
    data = ProbeData(x, y, np.repeat(np.arange(n_images), per_image),
                     [f"im{i}" for i in range(n_images)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    table = cross_validate(data, [1.0], max_iter=100, budget_bytes=budget)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "peak": peak, "folds": int(len(table))}))
    """
)


def test_chunked_solver_stays_under_its_budget():
    """Leave-one-out over 60 images of 4,000 rows: unchunked, the (rows x folds) arrays alone
    would take ~10 x 240,000 x 60 x 8 B = 1.2 GB; the budget is 120 MB beside the features."""
    n_images, per_image, dim = 60, 4000, 8
    features = n_images * per_image * dim * 4
    budget = features + 120 * 2**20
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(n_images), str(per_image), str(dim), str(budget)],
        capture_output=True,
        text=True,
        check=True,
        # a fixed mmap threshold: glibc's dynamic one keeps freed blocks in the heap, so the
        # peak RSS would measure the allocator's fragmentation, not the solver's arrays
        env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"},
    )
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["folds"] == n_images
    growth = got["peak"] - got["before"]
    assert growth < budget - features, f"peak grew by {growth / 2**20:.0f} MB"
