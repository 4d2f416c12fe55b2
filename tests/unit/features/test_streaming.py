"""Streamed extraction: one row group per batch, equal to the in-memory tables; partial reads."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import synthetic
import torch
from reference_extraction import write_features

from fmeval.features.datasets import download_dataset, read_manifest
from fmeval.features.extraction import (
    extract_features,
    plan_extraction,
    provenance,
    stream_features,
)
from fmeval.features.store import read_cls, read_features, read_image, read_split_rows

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def written(model, tmp_path_factory):
    """The same items written both ways: in memory (one row group) and streamed."""
    tmp = tmp_path_factory.mktemp("stream")
    items = read_manifest(
        download_dataset(name="synth", out_dir=tmp / "ds", **synthetic.make_dataset(tmp / "src"))
    )
    spec, net = model
    patch_table, cls_table, grids = extract_features(
        net, spec, items, res=42, batch_size=2, device=CPU
    )
    meta = provenance(
        spec, {"weights_id": "random-init"}, dataset="s", res=42, grids=grids, dim=384
    )
    write_features(patch_table, cls_table, meta, patches=tmp / "mem.parquet", cls=tmp / "mem.cls")
    plan = plan_extraction(items, spec=spec, res=42, batch_size=2)
    n = stream_features(
        net, spec, plan, meta, device=CPU, patches_out=tmp / "st.parquet", cls_out=tmp / "st.cls"
    )
    assert n == patch_table.num_rows
    return tmp, items, plan


def _by_image(path):
    f = read_features(path)
    out = {}
    for name in f.images:
        idx = f.rows_of(name)
        idx = idx[np.lexsort((f.col[idx], f.row[idx]))]
        out[name] = (f.features[idx], f.fg_fraction[idx], f.row[idx], f.col[idx], f.splits[name])
    return out, f.meta


def test_streamed_file_equals_the_in_memory_one(written):
    tmp, items, plan = written
    assert pq.ParquetFile(tmp / "st.parquet").num_row_groups == len(plan.batches) > 1
    mem, mem_meta = _by_image(tmp / "mem.parquet")
    st, st_meta = _by_image(tmp / "st.parquet")
    assert sorted(mem) == sorted(st) == sorted(i.name for i in items)
    for name in mem:
        for a, b in zip(mem[name], st[name]):
            np.testing.assert_array_equal(a, b)
    assert st_meta["grids"] == mem_meta["grids"] and st_meta["embed_dim"] == 384
    assert read_cls(tmp / "st.cls").cls.tobytes() == read_cls(tmp / "mem.cls").cls.tobytes()


def test_partial_reads_return_only_the_rows_asked_for(written):
    tmp, items, _ = written
    mem, _ = _by_image(tmp / "mem.parquet")
    for path in ("st.parquet", "mem.parquet"):  # row group from the metadata, or a filter
        one = read_image(tmp / path, "echo")
        assert one.images == ["echo"] or set(one.images[i] for i in one.image_index) == {"echo"}
        idx = np.lexsort((one.col, one.row))
        np.testing.assert_array_equal(one.features[idx], mem["echo"][0])
        rows = read_split_rows(tmp / path, split="train", keep=lambda fg: fg > 0.5)
        train = [i.name for i in items if i.split == "train"]
        assert sorted(rows.images) == sorted(train) and rows.unmasked == []
        assert (rows.fg_fraction > 0.5).all()
        expected = sum(int((mem[n][1] > 0.5).sum()) for n in train)
        assert rows.features.shape == (expected, 384) and rows.features.dtype == np.float32
        for k, name in enumerate(rows.images):
            got = rows.features[rows.image_index == k]
            want = mem[name][0][mem[name][1] > 0.5]
            np.testing.assert_array_equal(
                got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])]
            )
