"""Run facts for the summary: the commit and the devices the jobs recorded."""

import json
import re

import pyarrow as pa

from fmeval.io.tables import write_table
from fmeval.report.runinfo import NOT_RECORDED, devices_used, git_commit, workflow_root


def test_commit_of_this_checkout_and_of_a_plain_folder(tmp_path):
    commit = git_commit(workflow_root())
    assert re.fullmatch(r"[0-9a-f]{40}( \+ local changes)?", commit), commit
    assert git_commit(tmp_path) == "not a git checkout"


def test_devices_from_parquet_metadata_and_json_records(tmp_path):
    table = pa.table({"x": [1]})
    write_table(table, tmp_path / "a.parquet", meta={"device": "cuda"})
    write_table(table, tmp_path / "b.parquet", meta={})  # written before devices were recorded
    (tmp_path / "c.json").write_text(json.dumps({"device": "cpu"}))
    (tmp_path / "d.json").write_text(json.dumps({"device": "cpu"}))
    rows = devices_used(
        {
            "extract_features": [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")],
            "reconstruct_sinograms": [str(tmp_path / "c.json"), str(tmp_path / "d.json")],
        }
    )
    assert rows == [
        {"rule": "extract_features", "device": "cuda", "jobs": 1},
        {"rule": "extract_features", "device": NOT_RECORDED, "jobs": 1},
        {"rule": "reconstruct_sinograms", "device": "cpu", "jobs": 2},
    ]
