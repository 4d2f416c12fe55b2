"""The plan-time look at a weights file's first bytes (fmeval.io.headers)."""

import pytest
import torch
from safetensors.torch import save_file

from fmeval.errors import ConfigError
from fmeval.io.headers import checkpoint_problem
from fmeval.io.sources import check_config_sources

STATE = {"w": torch.zeros(2, 3)}


@pytest.mark.parametrize("kind", ["zip", "legacy", "safetensors"])
def test_real_checkpoints_start_like_one(tmp_path, kind):
    path = tmp_path / f"w.{kind}"
    if kind == "safetensors":
        save_file(STATE, str(path))
    else:
        torch.save(STATE, path, _use_new_zipfile_serialization=kind == "zip")
    assert checkpoint_problem(path) is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "is empty (0 bytes)"),
        (b"<!DOCTYPE html><html>", "does not start like a checkpoint (its first bytes are"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{}", "does not start like a checkpoint"),  # too short
    ],
)
def test_other_files_are_named(tmp_path, data, problem):
    path = tmp_path / "w.pth"
    path.write_bytes(data)
    assert checkpoint_problem(path).startswith(problem)


@pytest.mark.parametrize("key", ["models.m.weights", "ct.ram.weights"])
def test_every_local_weights_key_is_checked_at_plan_time(tmp_path, key):
    path = tmp_path / "w.pth"
    path.write_bytes(b"")
    config = {"models": {"m": {"weights": "random"}}, "ct": {"ram": {"weights": "random"}}}
    if key == "ct.ram.weights":
        config["ct"]["ram"]["weights"] = str(path)
    else:
        config["models"]["m"]["weights"] = str(path)
    with pytest.raises(ConfigError) as info:
        check_config_sources(config)
    assert str(info.value) == (
        f"`{key}` is {str(path)!r}, which is empty (0 bytes); point it at the checkpoint file "
        "itself (download it again if it was cut short)"
    )
    torch.save(STATE, path)
    check_config_sources(config)
