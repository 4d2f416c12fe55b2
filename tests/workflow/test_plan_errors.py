"""Config mistakes stop the dry run with one line; execution settings rerun nothing.

Each case runs ``snakemake -n`` (a dry run: the DAG only, no job) on the test config with
one mistake, and checks that the only thing printed besides snakemake's own two notes is
one line naming the key, the problem and the fix: no schema dump, no traceback.
"""

import copy

import pytest
from conftest import run_snakemake, scheduled_jobs, write_config

pytestmark = pytest.mark.integration

SNAKEMAKE_NOTES = ("Using workflow specific profile", "Config file config.yaml is replaced")


def dry_run_error(tmp_path, config: dict) -> str:
    proc = run_snakemake(tmp_path, config, "-n", check=False)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and not line.startswith(SNAKEMAKE_NOTES)
    ]
    assert len(lines) == 1, "\n".join(lines[:20])
    return lines[0]


def with_change(config: dict, change) -> dict:
    config = copy.deepcopy(config)
    change(config)
    return config


def timm_model(name: str, patch_size: int = 16) -> dict:
    return {"backend": "timm", "name": name, "patch_size": patch_size, "weights": "random"}


CASES = {
    "senseless video protocol override": (  # issue 25
        lambda c: c.update(video={"propagate": {"temperature": 0}}),
        "config error: video.propagate.temperature is 0 (dino protocol): the temperature must "
        "be > 0; use the protocol's 0.1 (remove the key) or a valid value",
    ),
    "top-level typo": (
        lambda c: c.update(resolution=[224]),
        "config error: resolution: unknown key; did you mean `resolutions`? "
        "(see schemas/config.schema.yaml for every key)",
    ),
    "nested typo": (
        lambda c: c["ct"].update(view=[10]),
        "config error: ct.view: unknown key; did you mean `ct.views`? "
        "(see schemas/config.schema.yaml for every key)",
    ),
    "unknown timm model": (
        lambda c: c["models"].update(d3=timm_model("vit_small_patch16_dinov33")),
        "config error: models.d3.name: timm 1.0.31 has no model 'vit_small_patch16_dinov33'; "
        "closest: vit_small_patch16_dinov3,",
    ),
    "not a ViT": (
        lambda c: c["models"].update(cnx=timm_model("convnext_tiny.dinov3_lvd1689m")),
        "config error: models.cnx.name: timm model 'convnext_tiny.dinov3_lvd1689m' is a convnext "
        "model, not a ViT: fmeval needs a ViT's patch tokens and CLS token; "
        "use e.g. vit_small_patch16_dinov3",
    ),
    "a family fmeval cannot run (issue 28)": (
        lambda c: c["models"].update(sam=timm_model("samvit_base_patch16.sa1b")),
        "config error: models.sam.name: timm model 'samvit_base_patch16.sa1b' is SAM's image "
        "encoder: windowed attention on a fixed 1024 px grid, no position-embedding "
        "interpolation and no image embedding; use a ViT that takes any resolution, e.g. "
        "vit_base_patch16_siglip_224.v2_webli",
    ),
    "unknown hub entry point": (
        lambda c: c["models"]["dinov2_vits14"].update(name="dinov2_vits14_reg4"),
        "config error: models.dinov2_vits14.name: the hub in ",
    ),
    "resolution not a multiple of the patch size": (
        lambda c: c.update(resolutions=[225]),
        "config error: resolution 225 is not a multiple of the patch size 14",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_config_mistake_is_one_line(tmp_path, test_config, case):
    change, expected = CASES[case]
    assert dry_run_error(tmp_path, with_change(test_config, change)).startswith(expected)


def test_execution_settings_rerun_nothing(full_run, test_config, tmp_path):
    """After a whole run, other batch sizes and devices schedule no job (dry run).

    The changed configs are written here, not over the shared run's config.yaml, which
    tests on the other pytest-xdist worker read at the same time."""

    def dry_run(config: dict):
        path = write_config(tmp_path, config)
        return run_snakemake(full_run, None, "-n", "--configfile", str(path))

    for change in (
        {"batch_size": 1},
        {"batch_size": 3, "device": "auto"},
        {"device": "auto"},
    ):
        proc = dry_run({**test_config, **change})
        assert scheduled_jobs(proc) == {}, proc.stdout[-3000:]
    # ... while a change of what the numbers depend on reruns the features
    proc = dry_run({**test_config, "precision": "bf16"})
    assert scheduled_jobs(proc).get("extract_features", 0) > 0
    # ... and so does the tokens' storage precision (issue 27)
    proc = dry_run({**test_config, "feature_storage": "fp16"})
    assert scheduled_jobs(proc).get("extract_features", 0) > 0
