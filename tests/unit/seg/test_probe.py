"""Unit tests of the foreground probe: patch selection, CV against scikit-learn, the
fit, bad input.
"""

import logging
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from reference_probe import cross_validate_reference
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fmeval.errors import DataError
from fmeval.features.names import unique_test_name
from fmeval.io.tables import write_table
from fmeval.seg.cv import cross_validate, summarise_cv
from fmeval.seg.fit import fit_probe, load_probe, save_probe
from fmeval.seg.probe import ProbeData, load_probe_data


def synthetic(
    seed: int, *, n_images: int = 5, per_image: int = 80, dim: int = 6, one_class: int | None = None
):
    """Tiny probe data: a noisy linear foreground rule, features with varied scales and offsets."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=dim)
    x = rng.normal(size=(n_images * per_image, dim)) * rng.uniform(0.1, 10, dim) + rng.normal(
        0, 5, dim
    )
    score = ((x - x.mean(0)) / x.std(0)) @ w + rng.normal(0, 1.5, len(x))
    y = (score > np.quantile(score, 0.7)).astype(np.int64)
    image = np.repeat(np.arange(n_images), per_image)
    if one_class is not None:
        y[image == one_class] = 0
    return ProbeData(
        x.astype(np.float32), y, image, [f"img{i}" for i in range(n_images)], {"random_init": True}
    )


def as_float64(data: ProbeData) -> ProbeData:
    return ProbeData(data.x.astype(np.float64), data.y, data.image, data.images, data.meta)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("cs", [[0.01, 0.1, 1.0], [10.0, 0.001]])
def test_cv_equals_sklearn_reference(seed, cs):
    data = synthetic(seed)
    ours = cross_validate(data, cs, max_iter=10000)
    # the tutorial's loop, converged tightly in float64 (float32 input makes sklearn fit in
    # float32, whose rounding can swap near-tied scores): the same AP
    ref = cross_validate_reference(as_float64(data), cs, max_iter=10000, tol=1e-10)
    assert len(ours) == len(data.images) * len(cs)
    merged = ref.merge(ours, on=["image", "C"], suffixes=("_ref", "_ours"))
    assert len(merged) == len(ours)
    np.testing.assert_allclose(merged["ap_ours"], merged["ap_ref"], atol=1e-9)
    for col in ("n_train", "n_train_fg", "n_test", "n_test_fg"):
        assert (merged[f"{col}_ours"] == merged[f"{col}_ref"]).all()
    assert (ours["n_test"] == 80).all() and (ours["n_train"] == 320).all()
    assert ours["converged"].all()


@pytest.mark.parametrize("c", [0.01, 1.0, 100.0])
def test_fit_equals_tightly_converged_sklearn(c):
    data = synthetic(3)
    probe = fit_probe(data, c, max_iter=10000)
    ref = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=c, solver="newton-cholesky", tol=1e-12, max_iter=1000),
    )
    ref.fit(data.x.astype(np.float64), data.y)
    np.testing.assert_allclose(probe.mean, ref[0].mean_, rtol=1e-5)
    np.testing.assert_allclose(probe.scale, ref[0].scale_, rtol=1e-5)
    np.testing.assert_allclose(probe.coef, ref[-1].coef_[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        probe.predict_proba(data.x), ref.predict_proba(data.x)[:, 1], atol=1e-6
    )


def test_probe_round_trip_without_pickle(tmp_path):
    data = synthetic(4)
    probe = fit_probe(data, 0.1, max_iter=10000)
    path = tmp_path / "probe.npz"
    save_probe(probe, path)
    with np.load(path, allow_pickle=False) as z:  # plain arrays only: loads with pickle off
        assert set(z.files) == {"mean", "scale", "coef", "intercept", "c", "meta"}
    back = load_probe(path)
    np.testing.assert_array_equal(back.predict_proba(data.x), probe.predict_proba(data.x))
    assert back.c == 0.1 and back.meta["random_init"] is True


def test_one_class_fold_is_skipped_and_recorded(caplog):
    data = synthetic(5, one_class=2)
    cs = [0.1, 1.0]
    with caplog.at_level(logging.WARNING):
        table = cross_validate(data, cs, max_iter=10000)
    skipped = table[table["skipped"]]
    assert set(skipped["image"]) == {"img2"} and len(skipped) == len(cs)
    assert skipped["ap"].isna().all()
    assert "only background" in skipped["reason"].iloc[0]
    assert "img2" in caplog.text
    assert table.loc[~table["skipped"], "ap"].between(0, 1).all()
    summary = summarise_cv(table, cs)
    assert summary["skipped_folds"] == [{"image": "img2", "reason": skipped["reason"].iloc[0]}]
    assert all(p["n_folds"] == 4 for p in summary["per_c"])
    # the reference loop skips the same fold and agrees on the others
    ref = cross_validate_reference(as_float64(data), cs, max_iter=10000, tol=1e-10)
    assert ref["skipped"].equals(table["skipped"])
    np.testing.assert_allclose(ref["ap"], table["ap"], atol=1e-9)


def test_every_fold_one_class_is_a_clear_error():
    data = synthetic(6, n_images=2)
    data.y[data.image == 0] = 1
    data.y[data.image == 1] = 0
    table = cross_validate(data, [1.0], max_iter=100)
    assert table["skipped"].all()
    with pytest.raises(DataError, match="every CV fold was skipped"):
        summarise_cv(table, [1.0])


def test_single_class_training_set_is_a_clear_error():
    data = synthetic(7)
    data.y[:] = 0
    with pytest.raises(DataError, match="both classes"):
        cross_validate(data, [1.0], max_iter=100)


def test_summary_best_c_and_ties():
    table = pd.DataFrame(
        {
            "image": ["a", "a", "a", "b", "b", "b"],
            "C": [0.01, 0.1, 1.0] * 2,
            "ap": [0.5, 0.7, 0.7, 0.7, 0.9, 0.9],
            "skipped": [False] * 6,
            "reason": [""] * 6,
        }
    )
    s = summarise_cv(table, [0.01, 0.1, 1.0])
    assert s["best_c"] == 0.1  # tie between 0.1 and 1.0 goes to the smaller C
    assert s["per_c"][0]["mean_ap"] == pytest.approx(0.6)
    assert s["per_c"][0]["sd_ap"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert s["per_c"][1]["n_folds"] == 2


def _feature_file(path, fg_by_image: dict, splits: dict, dim: int = 4):
    rng = np.random.default_rng(0)
    names, split, fg = [], [], []
    for name, fracs in fg_by_image.items():
        names += [name] * len(fracs)
        split += [splits[name]] * len(fracs)
        fg += list(fracs)
    fg = np.array(fg, dtype=np.float32)
    feats = rng.normal(size=(len(fg), dim)).astype(np.float32)
    table = pa.table(
        {
            "image": pa.array(names).dictionary_encode(),
            "split": pa.array(split).dictionary_encode(),
            "row": np.zeros(len(fg), np.int16),
            "col": np.arange(len(fg), dtype=np.int16),
            "fg_fraction": pa.array(fg, mask=np.isnan(fg), type=pa.float32()),
            "feature": pa.FixedSizeListArray.from_arrays(pa.array(feats.reshape(-1)), dim),
        }
    )
    write_table(table, path, meta={"random_init": True, "model": "m", "grids": {}})
    return feats


def test_load_probe_data_keeps_clear_train_patches(tmp_path):
    path = tmp_path / "f.parquet"
    fg = {
        "a": [0.0, 0.005, 0.01, 0.5, 0.99, 0.995, 1.0],
        "b": [0.0, 1.0, 0.3],
        "t": [0.0, 1.0, 1.0],
    }
    feats = _feature_file(path, fg, {"a": "train", "b": "train", "t": "test"})
    data = load_probe_data(path, fg_threshold=0.99, bg_threshold=0.01)
    # a: 0.0, 0.005 (bg), 0.995, 1.0 (fg); b: 0.0, 1.0; the test image t is never used
    assert data.images == ["a", "b"]
    np.testing.assert_array_equal(data.y, [0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(data.image, [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(data.x, feats[[0, 1, 5, 6, 7, 8]])
    assert data.meta["random_init"] is True


def test_load_probe_data_refuses_unmasked_train_images(tmp_path):
    path = tmp_path / "f.parquet"
    _feature_file(path, {"a": [0.0, 1.0], "b": [math.nan, math.nan]}, {"a": "train", "b": "train"})
    with pytest.raises(DataError, match="without a mask"):
        load_probe_data(path, fg_threshold=0.99, bg_threshold=0.01)


def test_name_test_images_follow_the_download():
    entries = [
        {"image": "https://x/y/test_image.jpg"},
        {"image": "/a/test_image.png"},
        {"name": "dog", "image": "z"},
    ]
    used: set[str] = set()
    assert [unique_test_name(e, used) for e in entries] == ["test_image", "test_image-2", "dog"]
