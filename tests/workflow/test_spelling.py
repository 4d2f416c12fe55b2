"""A config that means the same experiment plans the same jobs, whatever its spelling (issue 22).

After the whole run of the test config (the shared ``full_run``), random re-spellings of it
(keys in another order, ``1`` / ``1.0``, defaults written out or left out; tests/spelling.py)
plan nothing, nor do other values of the execution settings, and a real change of one value
reruns exactly its dependants. Every config/test*.yaml (the others layered on test.yaml, as
the README runs them) is then swept over every execution setting
(fmeval.canon.EXECUTION_SETTINGS): what Snakemake records of each job and compares on the
next run (its params, inputs, code; ``--touch`` writes that record without running a job)
stays the same.
"""

import base64
import copy
import json
import os
import random
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import (
    REPO,
    SHARED_DATA,
    SNAKEMAKE,
    load_test_config,
    run_with_config,
    scheduled_jobs,
    snakemake_env,
)
from spelling import respell, sweep_values

from fmeval.canon import EXECUTION_SETTINGS
from fmeval.config import load_schema

pytestmark = pytest.mark.integration

N_SPELLINGS = 5
TEST_CONFIGS = sorted(p.name for p in (REPO / "config").glob("test*.yaml"))
# what Snakemake compares to decide a rerun (besides the files' times)
RECORDED = ("rule", "params", "input", "code", "shellcmd", "conda_env", "software_stack_hash")


def planned(workdir: Path, config: dict) -> dict[str, int]:
    return scheduled_jobs(run_with_config(workdir, config, "-n"))


def reversed_keys(value):
    """Every mapping's keys in the reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_respellings_and_execution_settings_plan_nothing(full_run):
    config, schema = load_test_config(), load_schema()
    issue = reversed_keys(config)  # the issue's cases: every key order, and `1` for `1.0`
    issue["probe"]["cs"] = [0.01, 0.1, 1]
    assert planned(full_run, issue) == {}
    rng = random.Random(22)
    for i in range(N_SPELLINGS):
        spelt = respell(config, schema, rng)
        assert planned(full_run, spelt) == {}, f"re-spelling {i} reruns jobs:\n{yaml.dump(spelt)}"
    for variant in (0, 1):
        swept = sweep_values(config, schema, EXECUTION_SETTINGS, variant)
        assert planned(full_run, respell(swept, schema, rng)) == {}, yaml.dump(swept)


def test_a_real_change_reruns_exactly_its_dependants(full_run):
    config = load_test_config()
    config["ct"]["tv"]["lam"] = 0.02  # the TV weight: only the tv reconstructions depend on it
    n_cells = len(config["ct"]["views"]) * len(config["ct"]["noise"])
    assert planned(full_run, respell(config, load_schema(), random.Random(1))) == {
        "reconstruct_sinograms": n_cells,
        "score_reconstructions": 1,
        "report_ct": 1,
        "build_report": 1,  # the report shows the config
        "all": 1,
    }


def merged(names: list[str]) -> dict:
    """Config files merged as Snakemake merges several --configfile (key by key)."""

    def update(base: dict, new: dict) -> dict:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                update(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
        return base

    config: dict = {}
    for name in names:
        update(config, yaml.safe_load((REPO / "config" / name).read_text()))
    return config


def recorded_jobs(root: Path, config: dict) -> dict[str, dict]:
    """What Snakemake records of every job of ``config`` (``--touch``: nothing runs), by output.

    The run happens in ``root/work`` beside a link ``root/shared`` to ../shared and with a
    link ``tests`` to the repository's, so the config's relative paths (``../shared/...``,
    ``tests/fixtures/...``) resolve as from the repository root.
    """
    work = root / "work"
    work.mkdir(parents=True)
    os.symlink(REPO.parent / "shared", root / "shared")
    os.symlink(REPO / "tests", work / "tests")
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "1"]
    proc = subprocess.run(
        [*cmd, "--configfile", str(path), "--touch", "--quiet"],
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    records = {}
    folder = work / ".snakemake" / "metadata"
    for meta in (p for p in folder.rglob("*") if p.is_file()):
        parts = meta.relative_to(folder).parts  # a long name is split into @-folders
        output = base64.urlsafe_b64decode("".join(p.lstrip("@") for p in parts)).decode()
        record = json.loads(meta.read_text())
        records[output] = {key: record.get(key) for key in RECORDED}
    return records


@pytest.mark.parametrize("name", TEST_CONFIGS)
def test_execution_settings_rerun_nothing_in_any_test_config(tmp_path, name):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    config = merged(["test.yaml"] if name == "test.yaml" else ["test.yaml", name])
    base = recorded_jobs(tmp_path / "base", config)
    variant = TEST_CONFIGS.index(name)  # each config sweeps other values (every device in all)
    swept = sweep_values(config, load_schema(), EXECUTION_SETTINGS, variant)
    assert swept != config
    changed = recorded_jobs(tmp_path / "swept", swept)
    assert len(base) > 20 and sorted(changed) == sorted(base)
    differ = {out: base[out]["rule"] for out in base if base[out] != changed[out]}
    assert not differ, f"execution settings change these jobs' records: {differ}"
