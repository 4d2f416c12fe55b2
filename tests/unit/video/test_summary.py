"""The video report section's tables and figures."""

import numpy as np
import pandas as pd
import pytest

from fmeval.video.summary import jf_matrix, overlay, sequence_scores


def metrics_table() -> pd.DataFrame:
    rows = []
    # seq a: one object, scored J 0.5 and 1.0, F 1.0 and 0.0; seq b: two objects
    for t, j, f, scored in [(0, 1, 1, False), (1, 0.5, 1.0, True), (2, 1.0, 0.0, True)]:
        rows.append({"sequence": "a", "t": t, "object": 1, "J": j, "F": f, "scored": scored})
    for obj, j, f in [(1, 0.2, 0.4), (2, 0.6, 0.8)]:
        rows.append({"sequence": "b", "t": 1, "object": obj, "J": j, "F": f, "scored": True})
    table = pd.DataFrame(rows)
    return table.assign(dataset="d", model="m", res=112, method="propagate", random_init=True)


def test_one_row_per_object_and_the_means():
    scores = sequence_scores(metrics_table())
    names = [f"{s}/{o}" for s, o in zip(scores["sequence"], scores["object"])]
    # davis2017's rows are objects; b has two, so it also gets its mean; the mean last
    assert names == ["a/1", "b/1", "b/2", "b/mean", "mean/"]
    scores = scores.set_index(["sequence", "object"])
    assert scores.loc[("a", "1"), "J"] == pytest.approx(0.75) and scores.loc[("a", "1"), "F"] == 0.5
    assert scores.loc[("b", "1"), ["J", "F"]].tolist() == pytest.approx([0.2, 0.4])
    assert scores.loc[("b", "mean"), ["J", "F"]].tolist() == pytest.approx([0.4, 0.6])
    # the mean is over the three objects, not over the two sequences
    assert scores.loc[("mean", ""), "J"] == pytest.approx((0.75 + 0.2 + 0.6) / 3)
    assert scores.loc[("mean", ""), "J&F"] == pytest.approx(
        (scores.loc[("mean", ""), "J"] + scores.loc[("mean", ""), "F"]) / 2
    )
    assert scores["random_init"].all()


def test_jf_matrix_has_one_column_per_configuration():
    table = pd.concat([metrics_table(), metrics_table().assign(method="classifier", J=0.0)])
    wide = jf_matrix(sequence_scores(table))
    assert list(wide["name"]) == ["a_1", "b_1", "b_2", "b (mean)", "mean"]
    assert {"m @112 propagate", "m @112 classifier"} <= set(wide.columns)


def test_overlay_tints_only_the_objects():
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    labels = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    out = overlay(image, labels)
    assert (out[0, 0] == 100).all() and (out[1, 1] == 100).all()
    assert not (out[0, 1] == 100).all() and not (out[0, 1] == out[1, 0]).all()
