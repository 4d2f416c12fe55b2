"""The segmentation tables: AP per C with its chance level."""

import numpy as np
import pandas as pd

from fmeval.seg.summary import ap_table, best_table


def folds() -> pd.DataFrame:
    rows = []
    for res in (224, 448):
        for i, (n_test, n_fg) in enumerate([(100, 10), (200, 60), (50, 50)]):
            for c in (0.1, 1.0):
                skipped = n_fg == n_test  # one class: no AP
                rows.append(
                    {
                        "dataset": "d",
                        "model": "m",
                        "res": res,
                        "image": f"i{i}",
                        "C": c,
                        "ap": np.nan if skipped else 0.5 + c / 10 + i / 100,
                        "n_test": n_test,
                        "n_test_fg": n_fg,
                        "skipped": skipped,
                        "weights": "w",
                        "random_init": True,
                    }
                )
    return pd.DataFrame(rows)


def test_chance_is_the_mean_foreground_share_of_the_scored_folds():
    ap = ap_table(folds())
    assert np.allclose(ap["chance_ap"], np.mean([10 / 100, 60 / 200]))
    assert (ap["n_folds"] == 2).all() and (ap["n_skipped"] == 1).all()
    best = best_table(ap)
    assert best["C"].tolist() == [1.0, 1.0] and "chance_ap" in best.columns
