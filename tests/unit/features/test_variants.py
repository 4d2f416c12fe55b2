"""A feature file of another tap and transform: its tokens and its metadata say which."""

import numpy as np
import torch

from fmeval.features.extraction import extract_features, plan_extraction, provenance
from fmeval.features.images import load_rgb
from fmeval.features.taps import parse_tap
from fmeval.features.transforms import get_transform, normalise


def test_classification_tap_is_the_normed_cls_of_the_cropped_image(model, items):
    spec, net = model
    transform, tap = get_transform("classification"), parse_tap("last-norm")
    kw = {"res": 56, "batch_size": 4, "device": torch.device("cpu"), "prefetch": False}
    patches, cls, grids = extract_features(net, spec, items, transform=transform, tap=tap, **kw)
    assert set(map(tuple, grids.values())) == {(4, 4)}  # every image: a 56 x 56 centre crop
    item = items[0]
    pixels = transform.pixels(load_rgb(item.image), (4, 4), res=56, patch_size=14)
    x = normalise(pixels, torch.empty((3, 56, 56)), transform)[None]
    with torch.inference_mode():
        ((_, expected),) = net.get_intermediate_layers(x, n=1, return_class_token=True, norm=True)
    got = np.asarray(cls.column("cls").to_pylist()[0], dtype=np.float32)
    np.testing.assert_array_equal(got, expected[0].numpy())
    # the default tap differs: the norm is not applied
    raw, raw_cls, _ = extract_features(net, spec, items[:1], **kw)
    assert not np.allclose(np.asarray(raw_cls.column("cls").to_pylist()[0]), got)


def test_metadata_names_the_variant_and_not_the_default(model, items, tmp_path):
    spec, _ = model
    manifest = {"weights_id": "random-init"}
    plan = plan_extraction(items, spec=spec, res=56, batch_size=4)
    common = {"dataset": "synth", "res": 56, "grids": plan.grids, "dim": 384}
    default = provenance(spec, manifest, **common)
    assert "tap" not in default and "transform" not in default  # as before taps existed
    assert default["layer"] == "last block, no final norm"
    variant = provenance(spec, manifest, tap="last4-norm", transform="classification", **common)
    assert variant["tap"] == "last4-norm" and variant["transform"] == "classification"
    assert variant["layer"] == "last 4 blocks concatenated, final norm"
