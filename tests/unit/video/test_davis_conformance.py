"""J, F and J&F per frame, per object and overall equal davis2017-evaluation's, run unchanged.

A small DAVIS folder (palette annotations with void 255 and three objects, one of them
absent from the first frame) and a results folder of palette predictions are scored by
``DAVISEvaluation(...).evaluate`` from ../shared/reference/davis2017-evaluation (with the
real cv2) and by fmeval's ``run_scoring`` on the same masks.
"""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fmeval.video.masks import write_masks
from fmeval.video.prediction import scored_objects
from fmeval.video.scores import run_scoring
from fmeval.video.sequences import download_video, read_labels
from unit.video.reference_code import davis2017

pytest.importorskip("cv2", reason="davis2017's metrics.py needs opencv-python-headless")

PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0] * (256 * 3 - 12)
PALETTE[255 * 3 : 256 * 3] = [224, 224, 192]  # DAVIS' void colour
HEIGHT, WIDTH, N_FRAMES = 60, 90, 7


def labels(t: int, rng, *, shift: int = 0) -> np.ndarray:
    """Objects 1 and 3 from the start, object 2 from frame 2; a void border round object 1."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    lab = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    disc = (yy - 25) ** 2 + (xx - 20 - 3 * t - shift) ** 2
    lab[disc < 15**2] = 255  # void ring
    lab[disc < 12**2] = 1
    if t >= 2:
        lab[5:15, 60 + t : 75 + t] = 2
    lab[40:55, 50 - 2 * t - shift : 70 - 2 * t] = 3
    noise = rng.random((HEIGHT, WIDTH)) < 0.01  # ragged boundaries
    lab[noise & (lab == 0)] = 3 if shift else 0
    return lab


def save_palette(lab: np.ndarray, path) -> None:
    img = Image.fromarray(lab, mode="P")
    img.putpalette(PALETTE)
    img.save(path)


@pytest.fixture(scope="module")
def davis(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("davis2017")
    root, results = tmp / "DAVIS", tmp / "results"
    rng = np.random.default_rng(0)
    seqs = {"alpha": 0, "beta": 4}  # beta: predictions shifted further from the truth
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(seqs) + "\n")
    predicted = {}
    for seq, shift in seqs.items():
        for sub in ("JPEGImages/480p", "Annotations/480p"):
            (root / sub / seq).mkdir(parents=True)
        (results / seq).mkdir(parents=True)
        pred = []
        for t in range(N_FRAMES):
            img = rng.integers(0, 255, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / "JPEGImages/480p" / seq / f"{t:05d}.jpg")
            save_palette(labels(t, rng), root / "Annotations/480p" / seq / f"{t:05d}.png")
            p = labels(t, rng, shift=shift + t % 3)
            p[p == 255] = 0  # a prediction has no void
            if seq == "beta" and t == 3:
                p[p == 2] = 0  # an object missed in one frame
            save_palette(p, results / seq / f"{t:05d}.png")
            pred.append(p)
        predicted[seq] = np.stack(pred)
    return root, results, predicted


@pytest.fixture(scope="module")
def both(davis, tmp_path_factory):
    """(davis2017's metrics_res, fmeval's summary and metrics table) for the same masks."""
    root, results, predicted = davis
    evaluation, _ = davis2017()
    reference = evaluation.DAVISEvaluation(str(root), "semi-supervised", "val").evaluate(
        str(results)
    )
    tmp = tmp_path_factory.mktemp("fmeval")
    manifest = download_video(name="d", source=str(root), image_set="2017/val", out_dir=tmp / "ds")
    firsts = {s: read_labels(root / "Annotations/480p" / s / "00000.png") for s in predicted}
    meta = {
        "method": "propagate",
        "options": {},
        "protocol": "dino protocol",
        "ids": {s: [0, 1, 3] for s in predicted},
        "objects": {s: scored_objects(firsts[s]) for s in predicted},
        "given": {s: 0 for s in predicted},
    }
    write_masks(predicted, meta, tmp / "masks.npz")
    summary = run_scoring(
        masks=str(tmp / "masks.npz"),
        dataset_manifest=str(manifest),
        labels={"dataset": "d", "model": "m", "res": 480, "method": "propagate"},
        metrics=str(tmp / "metrics.parquet"),
        summary=str(tmp / "summary.json"),
    )
    json.loads((tmp / "summary.json").read_text())  # written and readable
    return reference, summary, pd.read_parquet(tmp / "metrics.parquet")


def test_objects_are_davis2017s(both):
    reference, summary, _ = both
    # three objects per sequence (2 absent from the first frame counts: ids 1 .. max), no 255
    assert list(summary["objects"]) == list(reference["J"]["M_per_object"])
    assert list(summary["objects"]) == [f"{s}_{k}" for s in ("alpha", "beta") for k in (1, 2, 3)]


def test_per_object_j_and_f_equal_davis2017(both):
    reference, summary, _ = both
    for name, row in summary["objects"].items():
        j, f = reference["J"]["M_per_object"][name], reference["F"]["M_per_object"][name]
        assert row["J"] == pytest.approx(j, abs=1e-9), name
        assert row["F"] == pytest.approx(f, abs=1e-9), name
        assert row["J&F"] == pytest.approx((j + f) / 2, abs=1e-9), name
    # not trivially equal: the objects score differently
    assert len({round(r["J"], 6) for r in summary["objects"].values()}) > 3


def test_global_means_equal_davis2017(both):
    reference, summary, _ = both
    j, f = np.mean(reference["J"]["M"]), np.mean(reference["F"]["M"])
    assert summary["J"] == pytest.approx(j, abs=1e-9)
    assert summary["F"] == pytest.approx(f, abs=1e-9)
    assert summary["J&F"] == pytest.approx((j + f) / 2, abs=1e-9)  # davis2017's J&F-Mean
    assert summary["n_objects"] == len(reference["J"]["M"]) == 6
    # per sequence: the mean over its objects of davis2017's per-object rows
    for seq in ("alpha", "beta"):
        js = [v for k, v in reference["J"]["M_per_object"].items() if k.startswith(seq)]
        assert summary["sequences"][seq]["J"] == pytest.approx(np.mean(js), abs=1e-9)


def test_per_frame_j_and_f_equal_the_metric_functions(davis, both):
    root, results, predicted = davis
    _, _, table = both
    _, metrics = davis2017()
    scored = table[table["scored"]]
    assert sorted(set(scored["t"])) == list(range(1, N_FRAMES - 1))
    for rec in scored.itertuples():
        gt = np.asarray(Image.open(root / "Annotations/480p" / rec.sequence / f"{rec.t:05d}.png"))
        gt = np.where(gt == 255, 0, gt)  # davis2017's get_all_masks: void is not an object
        pred = predicted[rec.sequence][rec.t]
        assert rec.J == pytest.approx(
            float(metrics.db_eval_iou(gt == rec.object, pred == rec.object)), abs=1e-9
        )
        assert rec.F == pytest.approx(
            float(metrics.db_eval_boundary(gt == rec.object, pred == rec.object)), abs=1e-9
        )
