"""A stage file that does not read back is one DataError naming it and the rule to rerun."""

import re

import numpy as np
import pytest

from fmeval.errors import ConfigError, DataError
from fmeval.io.reading import load_npy, read_json, reading


def test_json_and_npy_read_back(tmp_path):
    (tmp_path / "r.json").write_text('{"a": [1, 2]}')
    np.save(tmp_path / "x.npy", np.arange(3, dtype=np.float32))
    assert read_json(tmp_path / "r.json", fix="rerun f") == {"a": [1, 2]}
    assert load_npy(tmp_path / "x.npy", fix="rerun f").tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("content", [None, b"{not json", b"\xff\xfe"])
def test_unreadable_json_names_file_and_fix(tmp_path, content):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_json(path, what="the record", fix="delete it and rerun make_record")
    message = str(info.value)
    assert message.startswith(f"cannot read the record {path} (")
    assert message.endswith("); delete it and rerun make_record")


def test_unreadable_npy_without_what_names_only_the_path(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(b"not an array")
    with pytest.raises(DataError, match=rf"^cannot read {re.escape(str(path))} \(.*\); rerun g$"):
        load_npy(path, fix="rerun g")


def test_own_errors_and_other_errors_pass_through(tmp_path):
    with pytest.raises(ConfigError, match="already clear"):
        with reading(tmp_path, fix="rerun f"):
            raise ConfigError("already clear")
    with pytest.raises(KeyError):
        with reading(tmp_path, fix="rerun f"):
            raise KeyError("k")
    with pytest.raises(DataError, match="cannot read m"):
        with reading(tmp_path, what="m", fix="rerun f", errors=(KeyError,)):
            raise KeyError("k")
