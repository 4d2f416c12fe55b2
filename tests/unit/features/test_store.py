"""The Parquet store: zero-copy round trip, metadata, pandas and duckdb, atomic writes."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fmeval.features.store import feature_column, is_random_init, read_cls, read_features
from fmeval.io.tables import read_meta, write_table

META = {
    "dataset": "synth",
    "model": "vits",
    "backend": "torchhub",
    "weights": "random-init",
    "random_init": True,
    "res": 28,
    "patch_size": 14,
    "grids": {"a": [2, 3], "b": [2, 2]},
    "torch_version": "2.x",
    "timm_version": "1.x",
}


def patch_table(dim: int = 8, *, seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_a, n_b = 6, 4
    feats = rng.standard_normal((n_a + n_b, dim)).astype(np.float32)
    fg = np.concatenate([rng.random(n_a), np.full(n_b, np.nan)]).astype(np.float32)
    table = pa.table(
        {
            "image": pa.array(["a"] * n_a + ["b"] * n_b).dictionary_encode(),
            "split": pa.array(["train"] * n_a + ["test"] * n_b).dictionary_encode(),
            "row": np.array([0, 0, 0, 1, 1, 1, 0, 0, 1, 1], np.int16),
            "col": np.array([0, 1, 2, 0, 1, 2, 0, 1, 0, 1], np.int16),
            "fg_fraction": pa.array(fg, mask=np.isnan(fg), type=pa.float32()),
            "feature": feature_column(feats),
        }
    )
    return table, feats


@pytest.mark.parametrize("dim", [1, 8, 384])
def test_round_trip_is_exact_and_zero_copy(tmp_path, dim):
    table, feats = patch_table(dim)
    path = tmp_path / "f.parquet"
    write_table(table, path, meta=META)
    pf = read_features(path)
    np.testing.assert_array_equal(pf.features, feats)
    assert pf.features.dtype == np.float32 and pf.features.shape == feats.shape
    # zero-copy: the matrix is a view of the Arrow value buffer, not a numpy-owned copy
    assert not pf.features.flags.owndata
    values = pf.table.column("feature").chunk(0).values
    buf = values.buffers()[1]
    assert pf.features.ctypes.data == buf.address + values.offset * 4
    assert pf.images == ["a", "b"] and pf.splits == {"a": "train", "b": "test"}
    np.testing.assert_array_equal(pf.rows_of("b"), np.arange(6, 10))
    assert pf.grid_of("a") == (2, 3)
    np.testing.assert_array_equal(pf.row[:6], [0, 0, 0, 1, 1, 1])
    assert np.isnan(pf.fg_fraction[6:]).all() and not np.isnan(pf.fg_fraction[:6]).any()


def test_large_file_stays_one_chunk(tmp_path):
    """pq.read_table splits big files into batches; read_features must not copy them back."""
    n, dim = 200_000, 4
    feats = np.arange(n * dim, dtype=np.float32).reshape(n, dim)
    table = pa.table(
        {
            "image": pa.array(np.repeat(["a", "b"], n // 2)).dictionary_encode(),
            "split": pa.array(np.repeat(["train"], n)).dictionary_encode(),
            "row": np.zeros(n, np.int16),
            "col": np.zeros(n, np.int16),
            "fg_fraction": pa.array(np.zeros(n, np.float32)),
            "feature": feature_column(feats),
        }
    )
    path = tmp_path / "big.parquet"
    write_table(table, path, meta=META)
    pf = read_features(path)
    assert pf.table.column("feature").num_chunks == 1
    assert not pf.features.flags.owndata
    np.testing.assert_array_equal(pf.features[-1], feats[-1])


def test_metadata_round_trip_and_random_flag(tmp_path):
    table, _ = patch_table()
    path = tmp_path / "f.parquet"
    write_table(table, path, meta=META)
    meta = read_meta(path)
    assert meta == META  # types survive: bools, ints and dicts are JSON
    assert is_random_init(path)
    write_table(table, path, meta={**META, "random_init": False, "weights": "sha256:abc"})
    assert not is_random_init(path)


def test_opens_in_pandas_and_duckdb(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    table, feats = patch_table()
    path = tmp_path / "f.parquet"
    write_table(table, path, meta=META)
    df = pq.read_table(path).to_pandas()
    import pandas as pd

    df2 = pd.read_parquet(path)
    assert list(df2.columns) == ["image", "split", "row", "col", "fg_fraction", "feature"]
    assert len(df) == len(df2) == 10
    np.testing.assert_allclose(np.stack(df2["feature"].to_numpy()), feats)
    assert df2["fg_fraction"].isna().sum() == 4
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT image, count(*), count(fg_fraction), len(first(feature)) FROM '{path}' GROUP BY "
        "image ORDER BY image"
    ).fetchall()
    assert rows == [("a", 6, 6, 8), ("b", 4, 0, 8)]
    kv = con.execute(f"SELECT key, value FROM parquet_kv_metadata('{path}')").fetchall()
    keys = {k.decode() if isinstance(k, bytes) else k for k, _ in kv}
    assert {"fmeval.model", "fmeval.weights", "fmeval.random_init", "fmeval.grids"} <= keys


def test_cls_round_trip(tmp_path):
    cls = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    table = pa.table(
        {"image": ["a", "b", "c"], "split": ["train", "train", "test"], "cls": feature_column(cls)}
    )
    path = tmp_path / "f.cls.parquet"
    write_table(table, path, meta=META)
    out = read_cls(path)
    np.testing.assert_array_equal(out.cls, cls)
    assert not out.cls.flags.owndata
    assert out.images == ["a", "b", "c"] and out.splits == ["train", "train", "test"]
    assert out.meta["random_init"] is True


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    """An exception mid-write (a kill, a full disk) leaves nothing at the output path."""
    table, _ = patch_table()
    path = tmp_path / "f.parquet"

    def half_write(table, where, **kwargs):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", half_write)
    with pytest.raises(OSError, match="No space left"):
        write_table(table, path, meta=META)
    assert list(tmp_path.iterdir()) == []
