"""The lean extraction path (issue 14) gives the tables and file bytes of the code before it.

The reference, tests/reference_extraction.py, is the extraction code as it was.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from reference_extraction import (
    old_iter_batches,
    old_patch_batch_table,
    old_to_normalised_tensor,
)

from fmeval.errors import DataError
from fmeval.features.datasets import Item
from fmeval.features.embedding import tokens_to_host
from fmeval.features.extraction import iter_batches, plan_extraction, stream_features
from fmeval.features.images import load_rgb, resize_to_grid, to_normalised_tensor
from fmeval.features.loading import load_batch
from fmeval.features.plan import Prepared
from fmeval.features.tables import patch_batch_table
from fmeval.features.writing import write_stream

CPU = torch.device("cpu")


# model and items: tests/unit/features/conftest.py


@pytest.mark.parametrize("size", [(854, 480), (57, 31), (14, 14)])
def test_normalisation_has_the_same_bits(size):
    rng = np.random.default_rng(size[0])
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    new, old = to_normalised_tensor(img), old_to_normalised_tensor(img)
    assert new.shape == old.shape == (3, size[1], size[0]) and new.is_contiguous()
    assert new.numpy().tobytes() == old.contiguous().numpy().tobytes()


def _prepared(names, splits, grid, *, fg: list[bool], dtype=np.float32):
    rng = np.random.default_rng(len(names))
    return [
        Prepared(
            Item(name, split, "none.jpg", None),
            (grid[1] * 14, grid[0] * 14),
            grid,
            rng.random(grid).astype(dtype) if has else None,
        )
        for name, split, has in zip(names, splits, fg)
    ]


@pytest.mark.parametrize(
    ("names", "splits", "fg", "dtype"),
    [
        (["c", "a", "b"], ["train", "test", "train"], [True, False, True], np.float32),
        (["only"], ["train"], [False], np.float32),
        (["x", "y"], ["train", "train"], [True, True], np.float64),  # perf/scale.py's fg
    ],
)
def test_batch_table_equals_the_old_one_and_views_the_features(names, splits, fg, dtype):
    batch = _prepared(names, splits, (3, 5), fg=fg, dtype=dtype)
    patches = np.random.default_rng(1).standard_normal((len(batch), 3, 5, 8), dtype=np.float32)
    new = patch_batch_table(batch, patches)
    old = old_patch_batch_table(batch, patches)
    assert new.schema == old.schema and new.equals(old)
    assert new.column("image").chunk(0).dictionary.to_pylist() == list(dict.fromkeys(names))
    values = new.column("feature").chunk(0).values
    assert values.buffers()[1].address == patches.ctypes.data  # no copy of the features
    strided = np.ascontiguousarray(patches.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    assert patch_batch_table(batch, strided).equals(old)  # any layout, same table


def test_batch_table_refuses_a_wrong_shape():
    batch = _prepared(["a", "b"], ["train", "train"], (3, 5), fg=[True, True])
    with pytest.raises(ValueError, match="3x5"):
        patch_batch_table(batch, np.zeros((2, 5, 3, 8), np.float32))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_tokens_to_host_is_the_permuted_float32_array(dtype, channels_last):
    tokens = [torch.randn(n, 6, 3, 4).to(dtype) for n in (1, 2, 1)]
    if channels_last:  # (B, D, r, c) viewed from (B, r, c, D) memory, as some backends give
        tokens = [t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) for t in tokens]
    got = tokens_to_host(tokens)
    want = torch.cat(tokens).float().permute(0, 2, 3, 1).numpy()
    assert got.flags.c_contiguous and got.dtype == np.float32 and got.shape == (4, 3, 4, 6)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("batch_size", [2, 3])
def test_streamed_batches_and_file_bytes_equal_the_old_code(model, items, tmp_path, batch_size):
    spec, net = model
    plan = plan_extraction(items, spec=spec, res=42, batch_size=batch_size)
    new = list(iter_batches(net, spec, plan, device=CPU))
    old = list(old_iter_batches(net, spec, plan, device=CPU))
    assert len(new) == len(old) == len(plan.batches) > 1
    for (t_new, c_new), (t_old, c_old) in zip(new, old):
        assert t_new.equals(t_old)
        assert list(c_new) == list(c_old)
        assert all(c_new[k].tobytes() == c_old[k].tobytes() for k in c_old)
    meta = {"dataset": "s", "random_init": True}
    for name, tables in (("new", new), ("old", old)):
        write_stream(
            tables, plan, meta, patches_out=tmp_path / f"{name}.parquet", cls_out=tmp_path / name
        )
    assert (tmp_path / "new.parquet").read_bytes() == (tmp_path / "old.parquet").read_bytes()
    assert (tmp_path / "new").read_bytes() == (tmp_path / "old").read_bytes()


def test_a_bad_image_in_a_prefetched_batch_fails_cleanly(model, items, tmp_path):
    """The next batch is decoded in the background: its error still surfaces, by name."""
    spec, net = model
    plan = plan_extraction(items, spec=spec, res=42, batch_size=2)
    last = plan.batches[-1][0].item
    broken = tmp_path / "broken.jpg"
    data = open(last.image, "rb").read()
    broken.write_bytes(data[: len(data) // 2])  # header intact, pixels truncated
    plan.batches[-1][0].item = replace(last, image=broken)
    with pytest.raises(DataError, match="broken.jpg"):
        stream_features(
            net,
            spec,
            plan,
            {"dataset": "s"},
            device=CPU,
            patches_out=tmp_path / "p.parquet",
            cls_out=tmp_path / "c.parquet",
        )
    assert not (tmp_path / "p.parquet").exists() and not (tmp_path / "c.parquet").exists()


@pytest.mark.parametrize("threads", [1, 3])
def test_loaded_batch_is_the_old_stack_of_inputs(model, items, threads):
    spec, _ = model
    plan = plan_extraction(items, spec=spec, res=42, batch_size=4)
    batch = max(plan.batches, key=len)
    assert len(batch) > 2
    x = load_batch(batch, patch_size=14, workers=threads)
    old = torch.stack(
        [
            old_to_normalised_tensor(resize_to_grid(load_rgb(p.item.image), p.grid, patch_size=14))
            for p in batch
        ]
    )
    assert (
        x.is_contiguous() and x.dtype == old.dtype and x.numpy().tobytes() == old.numpy().tobytes()
    )
    with pytest.raises(DataError, match="nowhere.jpg"):
        load_batch(
            [*batch, replace(batch[0], item=replace(batch[0].item, image="nowhere.jpg"))],
            patch_size=14,
            workers=threads,
        )
