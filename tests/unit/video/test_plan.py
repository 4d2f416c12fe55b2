"""The video section: schema defaults, cross-field rules (fmeval.config), the typed plan."""

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from fmeval.config import check_config
from fmeval.errors import ConfigError
from fmeval.video import protocol
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
    # the default is DINO's eval_video_segmentation.py, every value from it
    propagate = plan.options["propagate"]
    assert plan.protocol.name == "dino" and propagate["description"].startswith("dino protocol")
    assert {k: propagate[k] for k in ("n_last_frames", "size_mask_neighborhood", "topk")} == {
        "n_last_frames": 7,
        "size_mask_neighborhood": 12,
        "topk": 5,
    }
    assert propagate["temperature"] == 0.1 and propagate["weighting"] == "exp"
    assert propagate["norm"] is True and propagate["void_label"] == 255


def test_an_override_is_named_in_the_protocol(monkeypatch):
    monkeypatch.setattr(protocol, "FEATURES_FOLLOW_PROTOCOL", True)
    config = validated({"protocol": "dinov3", "propagate": {"temperature": 0.5}})
    plan = video_plan(config)
    assert plan.options["propagate"]["temperature"] == 0.5
    assert plan.protocol.description == "dinov3 protocol, temperature 0.5 instead of 0.2"
    # the protocol's own value is no override
    same = video_plan(validated({"protocol": "dinov3", "propagate": {"temperature": 0.2}}))
    assert same.protocol.description == "dinov3 protocol"
    # features at another size than the protocol's are named too
    assert same.protocol.describe(112) == "dinov3 protocol, frames 112 px instead of 960"


def test_features_not_yet_the_protocols_are_named(monkeypatch):
    monkeypatch.setattr(protocol, "FEATURES_FOLLOW_PROTOCOL", False)
    plan = video_plan(validated({}))
    assert plan.protocol.description == (
        "dino protocol, tokens without the final norm, frames resized by fmeval, not dino's"
    )


@pytest.mark.parametrize(
    ("propagate", "message"),
    [
        (
            {"temperature": 0},
            r"^video.propagate.temperature is 0 \(dino protocol\): the temperature must be > 0; "
            r"use the protocol's 0.1",
        ),
        ({"temperature": -0.5}, r"^video.propagate.temperature is -0.5 "),
        ({"topk": 0}, r"^video.propagate.topk is 0 \(dino protocol\): top-k must be >= 1"),
        (
            {"topk": 170},
            r"^video.propagate.topk is 170 \(dino protocol\): larger than the 169 source patches",
        ),
        ({"size_mask_neighborhood": -1}, r"^video.propagate.size_mask_neighborhood is -1 "),
        ({"n_last_frames": -2}, r"^video.propagate.n_last_frames is -2 "),
    ],
)
def test_senseless_overrides_are_one_line_errors(propagate, message):
    with pytest.raises(ConfigError, match=message) as err:
        video_plan(validated({"propagate": propagate}))
    assert "\n" not in str(err.value)


def test_test_video_config_and_defaults():
    video = yaml.safe_load((REPO / "config" / "test-video.yaml").read_text())["video"]
    del video["protocol"], video["classifier"]
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
        (
            {"datasets": {"davis": {"source": "x"}}},
            r"video.datasets.davis: the name .davis. is also a segmentation dataset",
        ),
    ],
)
def test_cross_field_rules(video, message):
    with pytest.raises(ConfigError, match=message):
        check_config(validated(video))


@pytest.mark.parametrize(
    "video",
    [
        {"propagate": {"topk": 2.5}},
        {"propagate": {"temperature": "hot"}},
        {"protocol": "dinov2"},
        {"methods": ["optical-flow"]},
        {"classifier": {"train_frame": "last"}},
        {"datasets": {"v": {"source": "x", "typo": 1}}},
        {"unknown": 1},
    ],
)
def test_single_fields_are_checked_by_the_schema(video):
    with pytest.raises(WorkflowError):
        validated(video)
