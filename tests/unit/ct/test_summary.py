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
                        "setting": "lam=0.01" if method == "tv" else "hann, cut-off 0.7",
                        "tuned": True,
                        "iterations": float(10 + 10 * phantom) if method == "tv" else np.nan,
                        "max_iter": 30.0 if method == "tv" else np.nan,
                        "objective": 1.0 if method == "tv" else np.nan,
                        "validation_psnr": 21.0,
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


def test_the_table_has_settings_convergence_and_paired_differences():
    table = ct_table(scores(), methods=["tv", "fbp"], noises=["low"]).set_index(["method", "views"])
    tv = table.loc[("tv", 10)]
    assert (tv["iter_mean"], tv["iter_max"], tv["max_iter"], tv["hit_max"]) == (20, 30, 30, 1)
    assert tv["setting"] == "lam=0.01" and tv["tuned"] and tv["validation_psnr"] == 21.0
    assert table.loc[("fbp", 10), "hit_max"] == 0
    # tv scores higher on every phantom? the fixture draws independent noise: check the pairing
    raw = scores()
    cell = raw[raw["views"] == 10].pivot(index="phantom", columns="method", values="psnr")
    best = "tv" if cell["tv"].mean() >= cell["fbp"].mean() else "fbp"
    other = "fbp" if best == "tv" else "tv"
    assert table.loc[(other, 10), "psnr_baseline"] == best
    assert np.isclose(table.loc[(other, 10), "psnr_diff_mean"], (cell[other] - cell[best]).mean())
