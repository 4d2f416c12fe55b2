"""The probe's cross-validation as Tutorial 5 wrote it: a fresh scikit-learn fit per fold and C.

The reference that tests and perf/probe_cv.py compare :func:`fmeval.seg.cv.cross_validate`
(all folds of the C path solved at once) with.
"""

from collections.abc import Sequence

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fmeval.seg.cv import fold_rows, loo_folds, skip_reason
from fmeval.seg.folds import Folds
from fmeval.seg.probe import ProbeData, check_classes


def cross_validate_reference(
    data: ProbeData, cs: Sequence[float], *, max_iter: int, folds: Folds | None = None, **options
) -> pd.DataFrame:
    """The tutorial's loop: a fresh ``StandardScaler`` + ``LogisticRegression`` per fold and C.

    ``options`` go to ``LogisticRegression`` (e.g. ``tol=1e-10`` for a tightly converged reference).
    """
    check_classes(data)
    folds = folds or loo_folds(data)
    aps = {}
    for f in range(folds.k):
        if skip_reason(data, f, folds):
            continue
        test = folds.fold_of[data.image] == f
        aps[f] = []
        for c in cs:
            clf = make_pipeline(
                StandardScaler(),
                LogisticRegression(C=c, max_iter=max_iter, random_state=0, **options),
            )
            clf.fit(data.x[~test], data.y[~test])
            aps[f].append(
                average_precision_score(data.y[test], clf.predict_proba(data.x[test])[:, 1])
            )
    return fold_rows(data, folds, cs, aps)
