"""The video section: schema defaults, cross-field rules (fmeval.config), the typed plan."""

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from fmeval.config import check_config
from fmeval.errors import ConfigError
from fmeval.video.plan import video_plan

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def validated(video: dict | None) -> dict:
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    if video is not None:
        config["video"] = copy.deepcopy(video)
    validate(config, schema=SCHEMA)
    return config


def test_no_video_section_means_no_video_datasets():
    config = validated(None)
    check_config(config)
    plan = video_plan(config)
    assert plan.datasets == {}
    assert plan.models == ("dinov2_vits14",) and plan.resolutions == (224, 448)
    assert plan.options["propagate"] == {
        "n_last_frames": 7,
        "size_mask_neighborhood": 12,
        "topk": 5,
        "temperature": 0.7,
    }


def test_test_video_config_and_defaults():
    video = yaml.safe_load((REPO / "config" / "test-video.yaml").read_text())["video"]
    del video["propagate"], video["classifier"]
    config = validated(video)
    check_config(config)
    plan = video_plan(config)
    entry = plan.datasets["davis16-video"]
    assert entry["resolution"] == "480p" and entry["max_frames"] is None
    assert plan.resolutions == (112,) and plan.methods == ("propagate", "classifier")
    assert plan.options["propagate"]["topk"] == 5
    assert plan.options["classifier"] == {"train_frame": "first", "c": 1.0, "max_iter": 100}
    assert plan.bound_th == 0.008


@pytest.mark.parametrize(
    ("video", "message"),
    [
        ({"models": ["nope"]}, r"video.models \['nope'\] are not keys"),
        ({"resolutions": [100]}, r"video.resolutions: 100 is not a multiple of the patch size 14"),
        ({"datasets": {"davis": {"source": "x"}}}, r"names of segmentation datasets"),
    ],
)
def test_cross_field_rules(video, message):
    with pytest.raises(ConfigError, match=message):
        check_config(validated(video))


@pytest.mark.parametrize(
    "video",
    [
        {"propagate": {"topk": 0}},
        {"propagate": {"temperature": 0}},
        {"methods": ["optical-flow"]},
        {"classifier": {"train_frame": "last"}},
        {"datasets": {"v": {"source": "x", "typo": 1}}},
        {"unknown": 1},
    ],
)
def test_single_fields_are_checked_by_the_schema(video):
    with pytest.raises(WorkflowError):
        validated(video)
