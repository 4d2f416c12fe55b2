"""The video branch end to end on the four shared DAVIS sequences, and its reruns.

Random-initialised ViT-S/14 at 112 px; 12 frames per sequence keep the run short
(config/test-video.yaml runs the whole sequences).
"""

import copy

import pandas as pd
import pytest
import yaml
from conftest import REPO, load_test_config, run_snakemake, scheduled_jobs

from fmeval.features.store import read_features
from fmeval.video.protocol import PROTOCOLS

pytestmark = pytest.mark.integration

VIDEO_DATA = REPO.parent / "shared" / "data" / "davis2016-video"
SEQUENCES = ["blackswan", "car-shadow", "dog", "kite-surf"]
FRAMES = 12
CELL = "results/video/davis16-video/dinov2_vits14/112"
FEATURES = "results/features/davis16-video/dinov2_vits14/112/dino-video/last-norm.parquet"


def video_config() -> dict:
    config = load_test_config()
    video = yaml.safe_load((REPO / "config" / "test-video.yaml").read_text())["video"]
    video["datasets"]["davis16-video"]["source"] = str(VIDEO_DATA)
    video["datasets"]["davis16-video"]["max_frames"] = FRAMES
    config["video"] = video
    return config


@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    if not VIDEO_DATA.is_dir():
        pytest.skip(f"{VIDEO_DATA} is absent")
    workdir = tmp_path_factory.mktemp("video_run")
    config = video_config()
    run_snakemake(workdir, config, "--printshellcmds", "report_video")
    return workdir, config


def test_features_are_extracted_once_per_frame(video_run):
    workdir, _ = video_run
    # the dino protocol's tokens (after the final norm) and frame transform (issue 25)
    pf = read_features(workdir / FEATURES)
    assert sorted(pf.images) == sorted(f"{s}/{t:05d}" for s in SEQUENCES for t in range(FRAMES))
    assert pf.meta["random_init"] is True


@pytest.mark.parametrize("method", ["propagate", "classifier"])
def test_metrics_one_row_per_frame_and_object(video_run, method):
    workdir, _ = video_run
    table = pd.read_parquet(workdir / CELL / method / "metrics.parquet")
    assert len(table) == len(SEQUENCES) * FRAMES  # DAVIS 2016: one object per sequence
    assert sorted(table["sequence"].unique()) == SEQUENCES
    assert table["J"].between(0, 1).all() and table["F"].between(0, 1).all()
    assert table["random_init"].all()
    assert set(table.loc[table["scored"], "t"]) == set(range(1, FRAMES - 1))


def test_report_section(video_run):
    workdir, _ = video_run
    out = workdir / "results/report/video"
    jf = pd.read_csv(out / "jf.csv")
    # davis2017's rows: one per object (DAVIS 2016: one object per sequence), the mean last
    assert list(jf["name"]) == [*(f"{s}_1" for s in SEQUENCES), "mean"]
    assert {"dinov2_vits14 @112 propagate", "dinov2_vits14 @112 classifier"} <= set(jf.columns)
    scores = pd.read_csv(out / "scores.csv")
    assert scores["random_init"].all()
    propagate = scores[scores["method"] == "propagate"]
    # the default, no override; the test config's 112 px frames are named
    assert (propagate["protocol"] == PROTOCOLS["dino"].describe(112)).all()
    for name in ("j_over_time", "strips"):
        for ext in ("png", "svg"):
            assert (out / f"{name}_davis16-video.{ext}").stat().st_size > 0


@pytest.mark.parametrize(
    "change",
    [{"propagate": {"topk": 3}}, {"propagate": {"temperature": 0.5}}],
    ids=["topk", "temperature"],
)
def test_protocol_values_rerun_only_propagation_scoring_and_report(video_run, change):
    workdir, config = video_run
    changed = copy.deepcopy(config)
    for key, value in change.items():
        changed["video"][key] = value
    proc = run_snakemake(workdir, changed, "-n", "report_video")
    assert scheduled_jobs(proc) == {"predict_video_masks": 1, "score_video": 1, "report_video": 1}
    assert f"output: {CELL}/propagate/masks.npz" in proc.stdout
    assert f"output: {CELL}/classifier/masks.npz" not in proc.stdout
    unchanged = run_snakemake(workdir, config, "-n", "report_video")
    assert scheduled_jobs(unchanged) == {}


def test_another_protocol_takes_its_own_features(video_run):
    # dinov3's frame transform: new features (beside dino's), then both methods again
    workdir, config = video_run
    changed = copy.deepcopy(config)
    changed["video"]["protocol"] = "dinov3"
    proc = run_snakemake(workdir, changed, "-n", "report_video")
    assert scheduled_jobs(proc) == {
        "extract_features_variant": 1,
        "predict_video_masks": 2,
        "score_video": 2,
        "report_video": 1,
    }
    assert FEATURES.replace("dino-video", "dinov3-video") in proc.stdout
