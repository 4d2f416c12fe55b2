"""The video method records (fmeval.video.methods): one predictor per record, the plan's
options and the masks' protocol text from them, and the protocols' feature transforms."""

import pytest

from fmeval.errors import ConfigError
from fmeval.features.transforms import TRANSFORMS
from fmeval.video.methods import METHODS
from fmeval.video.plan import METHODS as PLAN_METHODS
from fmeval.video.prediction import PREDICTORS, predict_sequence, protocol_text
from fmeval.video.protocol import FEATURE_TRANSFORMS, PROTOCOLS


def test_every_record_has_a_predictor():
    assert set(PREDICTORS) == set(METHODS) and PLAN_METHODS == tuple(METHODS)


def test_an_unknown_method_is_one_line_naming_the_records():
    with pytest.raises(ConfigError, match="unknown video method 'flow'.*propagate"):
        predict_sequence(None, [], method="flow", options={}, device="cpu")


def test_the_masks_say_the_protocol_or_the_records_text():
    params = PROTOCOLS["dinov3"].as_params()
    assert protocol_text("propagate", params) == "dinov3 protocol"
    assert [n for n, m in METHODS.items() if m.protocol] == ["propagate"]
    text = "per-patch classifier (fmeval's own method, no published protocol)"
    assert protocol_text("classifier", {"c": 1.0}) == text


def test_every_protocol_names_a_feature_transform():
    assert {p.transform for p in PROTOCOLS.values()} == set(FEATURE_TRANSFORMS)
    assert set(FEATURE_TRANSFORMS.values()) <= set(TRANSFORMS)


def test_every_video_method_holds_a_gpu():
    """rules/video.smk asks for the records' GPU (tests/workflow/test_method_records.py)."""
    assert all(m.gpu for m in METHODS.values())
