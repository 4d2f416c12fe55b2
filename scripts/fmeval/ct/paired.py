"""Paired comparisons per (views, noise) cell: each method against the best baseline.

Every method reconstructs the same phantoms, so a difference between two methods is judged
on the per-phantom differences ``d_i = method_i - baseline_i``: their mean with a Student-t
95% interval (``mean(d) +- t_{0.975, n-1} sd(d) / sqrt(n)``, as ``scipy.stats.ttest_rel``'s
``confidence_interval``), and the count of phantoms where the method wins (``d_i > 0``) or
loses (``d_i < 0``). The difference is *established* when the interval excludes 0. The best
baseline of a cell is the baseline (FBP, TV) with the highest mean of the metric there.
"""

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fmeval.ct.methods import BASELINES  # the records' baselines: FBP and TV
from fmeval.ct.metrics import METRICS, mean_ci

CELL = ["views", "noise"]


def paired_difference(method: Sequence[float], baseline: Sequence[float]) -> dict:
    """Mean, Student-t 95% CI, wins, losses of ``method - baseline`` over paired values."""
    d = np.asarray(method, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    mean, _, low, high = mean_ci(d)
    return {
        "diff_mean": mean,
        "diff_ci_low": low,
        "diff_ci_high": high,
        "wins": int((d > 0).sum()),
        "losses": int((d < 0).sum()),
        "established": bool(not math.isnan(low) and (low > 0 or high < 0)),
    }


def paired_table(scores: pd.DataFrame, *, baselines: Sequence[str] = BASELINES) -> pd.DataFrame:
    """Per (method, views, noise) and metric: ``{metric}_baseline`` (the cell's best
    baseline) and ``{metric}_diff_mean``, ``_diff_ci_low``, ``_diff_ci_high``, ``_wins``,
    ``_losses``, ``_established`` against it (NaN/empty where the cell has no baseline)."""
    rows = []
    for (views, noise), cell in scores.groupby(CELL, sort=False):
        by_method = {m: part.set_index("phantom") for m, part in cell.groupby("method")}
        for method, part in by_method.items():
            row = {"method": method, "views": views, "noise": noise}
            for metric in METRICS:
                means = {b: by_method[b][metric].mean() for b in baselines if b in by_method}
                if not means:
                    row[f"{metric}_baseline"] = ""
                    continue
                best = max(means, key=lambda b: (means[b], -baselines.index(b)))
                ref = by_method[best][metric]
                common = part.index.intersection(ref.index)
                diff = paired_difference(part.loc[common, metric], ref.loc[common])
                row[f"{metric}_baseline"] = best
                row.update({f"{metric}_{k}": v for k, v in diff.items()})
            rows.append(row)
    return pd.DataFrame(rows)
