"""Every rule of the workflow runs scripts/run_rule.py, and its function (fmeval.entry.ENTRIES)
exists and gets every argument it needs from the rule's names: a function or argument renamed
on one side only fails here, not hours into a run.

The rules are read through the Snakemake API (no job runs); every rule is defined whatever the
config, so the test config's workflow holds them all.
"""

from pathlib import Path

import pytest
from conftest import REPO, write_config

from fmeval.entry import ENTRIES, check_rule


@pytest.fixture(scope="module")
def rules(tmp_path_factory, request):
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    test_config = request.getfixturevalue("test_config")
    workdir = tmp_path_factory.mktemp("entries")
    config = write_config(workdir, test_config)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        with SnakemakeApi(OutputSettings(quiet=None)) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=1),
                config_settings=ConfigSettings(configfiles=[Path(config)]),
                snakefile=REPO / "Snakefile",
                workdir=workdir,
            )
            yield list(workflow._workflow.rules)


@pytest.fixture(scope="module")
def test_config():  # module scope (the conftest fixture is per test)
    from conftest import SHARED_DATA, load_test_config

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return load_test_config()


def test_every_rule_runs_the_generic_entry(rules):
    jobs = [r for r in rules if r.name != "all"]
    assert len(jobs) > 20
    assert {r.name: Path(r.script).name for r in jobs if r.script} == {
        r.name: "run_rule.py" for r in jobs
    }
    assert set(ENTRIES) == {r.name for r in jobs}, "ENTRIES names a rule that is gone"


def test_every_rule_gives_its_function_every_argument(rules):
    problems = []
    for rule in rules:
        if rule.name == "all":
            continue
        names = [*rule.input._names, *rule.output._names, *rule.wildcard_names]
        problems += check_rule(rule.name, names=names, params=list(rule.params._names))
    assert problems == []


def test_each_branch_names_the_functions_of_its_own_rules(rules):
    """A branch's rules (those of its rules files) are in its package's entries.ENTRIES, and
    only there; the shared rules in fmeval.entry.SHARED_ENTRIES (a new branch edits neither)."""
    import importlib

    from fmeval.branches import BRANCHES
    from fmeval.entry import SHARED_ENTRIES

    owner = {file: b for b in BRANCHES for file in b.rules}
    expected = {b.name: set() for b in BRANCHES}
    shared = set()
    for rule in rules:
        if rule.name == "all":
            continue
        branch = owner.get(Path(str(rule.snakefile)).name)
        (expected[branch.name] if branch else shared).add(rule.name)
    for b in BRANCHES:
        entries = importlib.import_module(f"{b.module}.entries").ENTRIES
        assert set(entries) == expected[b.name], b.name
        assert all(v.startswith(f"{b.module}.") for v in entries.values()), b.name
    assert set(SHARED_ENTRIES) == shared
