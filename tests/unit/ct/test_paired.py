"""Paired differences against the best baseline: the interval equals scipy.stats' paired t."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fmeval.ct.paired import paired_difference, paired_table

A = np.array([20.1, 22.4, 19.8, 25.0, 21.3, 23.9])
B = np.array([19.0, 22.9, 18.1, 23.2, 20.0, 22.5])


def test_paired_interval_is_scipys_paired_t():
    got = paired_difference(A, B)
    ci = stats.ttest_rel(A, B).confidence_interval(0.95)
    assert got["diff_mean"] == pytest.approx(np.mean(A - B), rel=1e-12)
    assert got["diff_ci_low"] == pytest.approx(ci.low, rel=1e-10)
    assert got["diff_ci_high"] == pytest.approx(ci.high, rel=1e-10)
    assert (got["wins"], got["losses"]) == (5, 1)
    assert got["established"] is bool(ci.low > 0 or ci.high < 0)


def test_a_difference_whose_interval_holds_zero_is_not_established():
    got = paired_difference([1.0, 2.0, 3.0], [2.0, 1.0, 3.5])
    assert got["diff_ci_low"] < 0 < got["diff_ci_high"] and not got["established"]
    assert (got["wins"], got["losses"]) == (1, 2)
    assert not paired_difference([1.0], [0.0])["established"]  # one phantom: no interval


def test_paired_table_compares_with_the_best_baseline_of_each_cell():
    rows = []
    for method, values in {"fbp": B, "tv": A, "ram": A + 0.5}.items():
        for i, v in enumerate(values):
            rows.append(
                {"method": method, "views": 10, "noise": "low", "phantom": i, "psnr": v,
                 "ssim": v / 100}
            )  # fmt: skip
    table = paired_table(pd.DataFrame(rows)).set_index("method")
    assert set(table["psnr_baseline"]) == {"tv"}  # tv's mean is the higher
    assert table.loc["tv", "psnr_diff_mean"] == 0 and table.loc["tv", "psnr_wins"] == 0
    assert table.loc["ram", "psnr_diff_mean"] == pytest.approx(0.5)
    assert table.loc["ram", "psnr_established"]  # +0.5 on every phantom
    assert table.loc["fbp", "psnr_diff_mean"] == pytest.approx(np.mean(B - A))
