"""The branch registry (fmeval.branches): which branches a config runs, and dataset names."""

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.utils import validate

from fmeval.branches import BRANCHES, NAMES, check_branches, enabled, off_reasons
from fmeval.config import check_config
from fmeval.errors import ConfigError
from fmeval.report.sections import SECTIONS

SOURCE = {"source": "x.tar.gz"}


def config(**top) -> dict:
    cfg = copy.deepcopy(yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    cfg.update(top)
    validate(cfg, schema=str(REPO / "schemas" / "config.schema.yaml"))
    return cfg


def test_every_branch_has_its_rules_file_and_report_section():
    assert [s.id for s in SECTIONS] == list(NAMES)
    for branch in BRANCHES:
        for name in branch.rules:
            text = (REPO / "rules" / name).read_text()
            assert "rule " in text, name
        assert (
            sum(
                f'register_branch(\n    "{branch.name}"' in (REPO / "rules" / f).read_text()
                for f in branch.rules
            )
            == 1
        ), branch.name
        assert (
            REPO / "scripts/fmeval/report/templates/sections" / f"{branch.name}.html.j2"
        ).is_file()


def test_default_runs_segmentation_and_ct_and_the_branches_with_datasets():
    cfg = config()
    assert cfg["branches"] is None
    assert enabled(cfg) == ["segmentation", "ct"]
    assert set(off_reasons(cfg)) == {"video", "classify"}
    assert "video.datasets is empty" in off_reasons(cfg)["video"]
    cfg["video"] = {"datasets": {"clip": SOURCE}}
    assert enabled(cfg) == ["segmentation", "ct", "video"]


def test_a_list_runs_its_branches_in_registry_order():
    cfg = config(branches=["ct", "segmentation"])
    assert enabled(cfg) == ["segmentation", "ct"]
    cfg = config(branches=["ct"])
    assert enabled(cfg) == ["ct"]
    assert "`branches` does not list segmentation" in off_reasons(cfg)["segmentation"]
    check_config(cfg)


def test_segmentation_off_needs_no_dataset():
    cfg = config(branches=["ct"])
    cfg["datasets"] = {}
    check_config(cfg)
    with pytest.raises(ConfigError, match=r"^datasets: segmentation runs but has no dataset"):
        check_config(config(datasets={}))


@pytest.mark.parametrize(
    ("branches", "message"),
    [
        (
            ["segmentaton"],
            r"^branches\[0\]: 'segmentaton' is not a branch; did you mean `segmentation`\?$",
        ),
        (["ct", "ct"], None),  # the schema's uniqueItems
        (["video"], r"^video.datasets: video runs but has no dataset; add one, or leave video out"),
    ],
)
def test_bad_lists_are_one_line(branches, message):
    cfg = copy.deepcopy(yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    cfg["branches"] = branches
    if message is None:
        with pytest.raises(Exception, match="non-unique|unique"):
            validate(cfg, schema=str(REPO / "schemas" / "config.schema.yaml"))
        return
    validate(cfg, schema=str(REPO / "schemas" / "config.schema.yaml"))
    with pytest.raises(ConfigError, match=message) as err:
        check_branches(cfg)
    assert "\n" not in str(err.value)


def test_a_dataset_name_belongs_to_one_branch():
    cfg = config()
    cfg["video"] = {"datasets": {"clip": SOURCE}}
    cfg["classify"] = {"datasets": {"clip": SOURCE}}
    with pytest.raises(
        ConfigError,
        match=r"^classify.datasets.clip: the name 'clip' is also a video dataset "
        r"\(video.datasets.clip\)",
    ):
        check_branches(cfg)
    cfg["classify"] = {"datasets": {"frames": SOURCE}}
    check_branches(cfg)
