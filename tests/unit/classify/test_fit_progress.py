"""The classify probes' progress lines: C values fitted out of the grid, and the refit."""

import logging
from functools import partial

import numpy as np
import pytest

from fmeval.classify import linear, logreg
from fmeval.progress import Progress


def lines(caplog, label: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(label + ": ")]


def data(seed=0, n_train=60, n_test=20, dim=4, n_classes=3):
    rng = np.random.default_rng(seed)
    y_train, y_test = np.arange(n_train) % n_classes, rng.integers(0, n_classes, n_test)
    centres = rng.normal(size=(n_classes, dim))
    x_train = centres[y_train] + rng.normal(size=(n_train, dim))
    x_test = centres[y_test] + rng.normal(size=(n_test, dim))
    return x_train, y_train, x_test, y_test


@pytest.mark.parametrize(
    ("module", "label", "fit", "options"),
    [
        (linear, "linear probe", "linear_probe", {"val_fraction": 0.25, "seed": 0, "tol": 1e-4}),
        (logreg, "log-regression", "dinov2_log_regression", {"tol": 1e-4}),
    ],
)
def test_each_c_and_the_refit_log_a_progress_line(monkeypatch, caplog, module, label, fit, options):
    monkeypatch.setattr(module, "Progress", partial(Progress, every=0))
    cs = [0.01, 0.1, 1.0]
    with caplog.at_level(logging.INFO, logger="fmeval"):
        getattr(module, fit)(*data(), cs=cs, max_iter=200, **options)
    got = lines(caplog, label)
    assert [line.split()[len(label.split())] for line in got] == ["1/4", "2/4", "3/4", "4/4"]
    assert "fits (25.0%)" in got[0]
    assert "done in" in got[-1]
