"""``feature_storage``: fp16 and bf16 token columns round-trip, every reader upcasts to float32."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from fmeval.classify.embeddings import mean_patch_tokens
from fmeval.errors import DataError
from fmeval.features.extraction import plan_extraction, provenance, stream_features
from fmeval.features.storage import STORAGES, check_finite, encode, to_float32
from fmeval.features.store import (
    feature_column,
    read_cls,
    read_features,
    read_image,
    read_split_rows,
)

CPU = torch.device("cpu")
TORCH = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
ARROW = {"fp32": pa.float32(), "fp16": pa.float16(), "bf16": pa.uint16()}


def rounded(x: np.ndarray, storage: str) -> np.ndarray:
    """float32 ``x`` rounded to ``storage`` by torch's cast, back as float32."""
    return torch.from_numpy(np.array(x)).to(TORCH[storage]).float().numpy()


@pytest.mark.parametrize("storage", STORAGES)
def test_a_column_round_trips_through_parquet(storage, tmp_path):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((50, 12)) * [[1e-3] * 6 + [300.0] * 6]).astype(np.float32)
    column = feature_column(encode(x, storage))
    assert column.type.value_type == ARROW[storage]
    pq.write_table(pa.table({"feature": column}), tmp_path / "t.parquet")
    back = pq.read_table(tmp_path / "t.parquet").column("feature").combine_chunks()
    assert back.type.value_type == ARROW[storage]
    got = to_float32(back)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.array_equal(got, rounded(x, storage))
    if storage != "fp32":
        assert not np.array_equal(got, x)  # it did round
    assert np.array_equal(to_float32(back.slice(10, 5)), got[10:15])  # an offset slice


def test_fp16_overflow_is_one_line_with_the_fix():
    big = encode(np.array([[1e5, 1.0]], dtype=np.float32), "fp16")
    with pytest.raises(DataError, match="feature_storage: fp16.*bf16 or fp32"):
        check_finite(big, storage="fp16")
    check_finite(encode(np.array([[1e5]], np.float32), "bf16"), storage="bf16")


@pytest.fixture(scope="module")
def written(model, items, tmp_path_factory):
    """The synthetic items extracted once per storage, streamed to files."""
    spec, net = model
    tmp = tmp_path_factory.mktemp("storage")
    plan = plan_extraction(items, spec=spec, res=28, batch_size=3)
    out = {}
    for storage in STORAGES:
        meta = provenance(
            spec, {"weights_id": "random-init"}, dataset="s", res=28, grids=plan.grids, dim=None
        )
        meta["storage"] = storage
        paths = tmp / f"{storage}.parquet", tmp / f"{storage}.cls.parquet"
        stream_features(
            net,
            spec,
            plan,
            meta,
            device=CPU,
            storage=storage,
            patches_out=paths[0],
            cls_out=paths[1],
        )
        out[storage] = paths
    return out, items


@pytest.mark.parametrize("storage", ["fp16", "bf16"])
def test_every_reader_upcasts_to_the_rounded_fp32_tokens(written, storage):
    files, items = written
    full, compact = files["fp32"], files[storage]
    assert pq.read_schema(compact[0]).field("feature").type.value_type == ARROW[storage]
    a, b = read_features(full[0]), read_features(compact[0])
    assert b.features.dtype == np.float32 and b.meta["storage"] == storage
    assert np.array_equal(b.features, rounded(a.features, storage))
    assert compact[0].stat().st_size < 0.7 * full[0].stat().st_size
    ca, cb = read_cls(full[1]), read_cls(compact[1])
    assert cb.cls.dtype == np.float32 and np.array_equal(cb.cls, rounded(ca.cls, storage))
    name = items[0].name
    assert np.array_equal(
        read_image(compact[0], name).features, rounded(read_image(full[0], name).features, storage)
    )
    keep = lambda fg: np.isfinite(fg)  # noqa: E731
    ra = read_split_rows(full[0], split="train", keep=keep)
    rb = read_split_rows(compact[0], split="train", keep=keep)
    assert len(rb.features) and np.array_equal(rb.features, rounded(ra.features, storage))
    names = [it.name for it in items]
    mean = mean_patch_tokens(compact[0], names)
    rows = [b.rows_of(n) for n in names]
    want = np.stack([b.features[r].astype(np.float64).mean(0) for r in rows]).astype(np.float32)
    np.testing.assert_allclose(mean, want, rtol=1e-6, atol=1e-7)


def test_fp32_storage_is_still_read_without_a_copy(written):
    files, _ = written
    assert not read_features(files["fp32"][0]).features.flags.owndata


@pytest.mark.parametrize("storage", STORAGES)
def test_the_token_column_has_no_statistics_and_a_dictionary_only_for_bf16(written, storage):
    files, _ = written
    meta = pq.ParquetFile(files[storage][0]).metadata
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    for group in range(meta.num_row_groups):
        chunk = meta.row_group(group).column(names.index("feature.list.element"))
        assert chunk.statistics is None
        assert ("RLE_DICTIONARY" in chunk.encodings) == (storage == "bf16")
        image = meta.row_group(group).column(names.index("image"))
        assert image.statistics is not None  # read_image's filter still prunes row groups
