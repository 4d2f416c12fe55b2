"""The probe CV's progress lines: (fold, C) fits done out of folds x Cs."""

import logging
from functools import partial

import numpy as np

from fmeval.learn import logistic
from fmeval.progress import Progress
from fmeval.seg.cv import cross_validate
from fmeval.seg.folds import assign_folds
from fmeval.seg.probe import ProbeData


def test_cv_logs_fold_fits_done_out_of_folds_times_cs(monkeypatch, caplog):
    monkeypatch.setattr(logistic, "Progress", partial(Progress, every=0))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 3)).astype(np.float32)
    y = (x[:, 0] + rng.normal(0, 0.5, 240) > 0).astype(np.int64)
    images = [f"img{i}" for i in range(6)]
    data = ProbeData(x, y, np.repeat(np.arange(6), 40), images)
    folds = assign_folds(images, cv="kfold", k=3, seed=0)
    with caplog.at_level(logging.INFO, logger="fmeval"):
        cross_validate(data, [0.1, 1.0], max_iter=100, folds=folds)
    got = [r.getMessage() for r in caplog.records if r.getMessage().startswith("CV: ")]
    counts = [line.split()[1] for line in got]
    assert counts[-1] == "6/6" and all(c.endswith("/6") for c in counts)
    assert len(counts) >= 2 and "done in" in got[-1]  # one line per C at least (every=0)
