"""The CT table: views ascending, as in the plots."""

import numpy as np
import pandas as pd

from fmeval.ct.summary import RANK_METRIC, ct_table, pick_examples


def scores() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for method in ("tv", "fbp"):
        for views in (20, 100, 10):
            for phantom in range(3):
                rows.append(
                    {
                        "method": method,
                        "views": views,
                        "noise": "low",
                        "gain": 0.0,
                        "sigma": 0.0,
                        "phantom": phantom,
                        "psnr": 20 + phantom + rng.uniform(),
                        "ssim": 0.5,
                        "weights": "none",
                        "random_init": False,
                    }
                )
    return pd.DataFrame(rows)


def test_views_ascend_within_each_method_in_config_order():
    table = ct_table(scores(), methods=["tv", "fbp"], noises=["low"])
    assert table["method"].tolist() == ["tv"] * 3 + ["fbp"] * 3
    assert table["views"].tolist() == [10, 20, 100] * 2


def test_examples_are_ranked_by_the_named_metric():
    assert RANK_METRIC == "psnr"
    assert pick_examples(scores(), views=10, noise="low") == {"median": 1, "worst": 0}
