"""Feature extraction in-process: batching by shape, tutorial equivalence, refusals."""

import numpy as np
import pytest
import torch
from PIL import Image

from fmeval.errors import DataError
from fmeval.features.backbones import run_backbone
from fmeval.features.datasets import Item
from fmeval.features.extraction import extract_features
from fmeval.features.images import load_rgb, patch_grid, resize_to_grid, to_normalised_tensor
from fmeval.features.plan import batches, prepare
from fmeval.features.store import read_features

CPU = torch.device("cpu")


def test_batches_share_a_shape_and_respect_the_size(items):
    prepared = prepare(items, res=28, patch_size=14)
    for size in (1, 2, 3, 8):
        groups = batches(prepared, size)
        assert all(len(b) <= size and len({p.grid for p in b}) == 1 for b in groups)
        assert sorted(p.item.name for b in groups for p in b) == sorted(i.name for i in items)
    assert len(batches(prepared, 8)) == len({p.grid for p in prepared}) == 3  # (2,2) (2,3) (2,1)


@pytest.mark.parametrize("res", [28, 42])
def test_batched_features_equal_one_image_at_a_time(model, items, res):
    """The tutorial's loop (resize one image, forward it alone) gives the same tokens."""
    spec, net = model
    patch_table, cls_table, grids = extract_features(
        net, spec, items, res=res, batch_size=3, device=CPU
    )
    assert patch_table.num_rows == sum(r * c for r, c in grids.values())
    feats = (
        patch_table.column("feature")
        .combine_chunks()
        .values.to_numpy()
        .reshape(patch_table.num_rows, -1)
    )
    names = patch_table.column("image").to_pylist()
    for i, item in enumerate(items):
        img = load_rgb(item.image)
        grid = patch_grid(*img.size, res=res, patch_size=14)
        assert grids[item.name] == list(grid)
        x = to_normalised_tensor(resize_to_grid(img, grid, patch_size=14))[None]
        with torch.inference_mode():
            patches, cls = run_backbone(spec, net, x)
        rows = [k for k, n in enumerate(names) if n == item.name]
        want = patches[0].permute(1, 2, 0).reshape(-1, patches.shape[1]).numpy()
        np.testing.assert_allclose(feats[rows], want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(
            cls_table.column("cls")[i].values.to_numpy(), cls[0].numpy(), rtol=1e-4, atol=1e-4
        )


def test_narrow_image_is_refused_with_its_name(model, items, tmp_path):
    sliver = tmp_path / "sliver.jpg"
    Image.new("RGB", (4, 200), "white").save(sliver)
    bad = [*items, Item(name="sliver", split="test", image=sliver, mask=None)]
    spec, net = model
    with pytest.raises(
        DataError,
        match=r"image sliver \(.*sliver\.jpg\) \(4x200 px\) is smaller than one 14px patch",
    ):
        extract_features(net, spec, bad, res=28, batch_size=8, device=CPU)


def test_exif_rotated_image_gets_the_rotated_grid(model, tmp_path):
    arr = np.zeros((48, 96, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape 96x48, displayed portrait 48x96
    path = tmp_path / "phone.jpg"
    Image.fromarray(arr).save(path, exif=exif)
    spec, net = model
    _, cls_table, grids = extract_features(
        net,
        spec,
        [Item(name="phone", split="test", image=path, mask=None)],
        res=28,
        batch_size=1,
        device=CPU,
    )
    assert grids["phone"] == [2, 1]  # rows = 28 // 14, cols = int(48 * 28 / (96 * 14))
    assert (
        cls_table.column("width")[0].as_py() == 48 and cls_table.column("height")[0].as_py() == 96
    )


def test_fg_fraction_null_only_without_a_mask(model, items, tmp_path):
    spec, net = model
    from reference_extraction import write_features

    from fmeval.features.extraction import provenance

    patch_table, cls_table, grids = extract_features(
        net, spec, items, res=28, batch_size=8, device=CPU
    )
    meta = provenance(
        spec, {"weights_id": "random-init"}, dataset="synth", res=28, grids=grids, dim=384
    )
    write_features(
        patch_table,
        cls_table,
        meta,
        patches=tmp_path / "f.parquet",
        cls=tmp_path / "f.cls.parquet",
    )
    pf = read_features(tmp_path / "f.parquet")
    for item in items:
        fg = pf.fg_fraction[pf.rows_of(item.name)]
        if item.mask is None:
            assert np.isnan(fg).all()
        else:
            assert not np.isnan(fg).any() and 0 <= fg.min() and fg.max() <= 1 and 0 < fg.max()
