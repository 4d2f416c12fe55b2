"""The plan-time disk estimate of the features (issue 27, "Bad input and limits")."""

import json

from fmeval.features.diskplan import cell_bytes, disk_warnings, manifest_images
from fmeval.features.models import ModelSpec

VITB = ModelSpec("b", "torchhub", "dinov2_vitb14", 14, repo="../shared/hub/dinov2")
UNLISTED = ModelSpec("x", "timm", "my_own_vit", 16)


def fake_manifest(path, n):
    path.write_text(json.dumps({"train": [{"name": f"i{k}"} for k in range(n)], "test": []}))
    return path


def test_bytes_are_images_times_tokens_times_dim_times_width():
    # the figure: ViT-B on a square 896 px image is 4,096 x 768 x 4 bytes = 12.6 MB
    assert cell_bytes(1, 896, VITB, 4) == 4096 * 768 * 4
    assert cell_bytes(10, 448, VITB, 2) == 10 * 1024 * 768 * 2
    assert cell_bytes(10, 448, UNLISTED, 4) is None


def test_one_line_per_cell_over_the_limit_with_the_fixes(tmp_path):
    manifests = {"big": fake_manifest(tmp_path / "big.json", 1000), "none": tmp_path / "no"}
    models = {"b": VITB, "x": UNLISTED}
    cells = [("big", 224), ("big", 896), ("none", 896)]
    lines = disk_warnings(cells, models, manifest_of=manifests.get)  # over 10 GB
    # 1,000 images: 12.6 GB at 896 px, 0.8 GB at 224; the unlisted model and the dataset
    # not yet downloaded have no estimate
    assert len(lines) == 1 and "(big, b, 896)" in lines[0] and "12.6 GB" in lines[0], lines
    for fix in ("resolution", "16-bit", "fewer images"):
        assert fix in lines[0]


def test_unknown_image_count_gives_no_estimate(tmp_path):
    assert manifest_images(tmp_path / "absent.json") is None
    (tmp_path / "half.json").write_text("{")
    assert manifest_images(tmp_path / "half.json") is None
    assert manifest_images(fake_manifest(tmp_path / "m.json", 3)) == 3
