"""fmeval.progress: the progress line's content and its every-30-s cadence."""

import logging

import pytest

from fmeval.progress import Progress, format_duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (3.2, "3 s"), (75, "1 min 15 s"), (4000, "1 h 6 min")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_first_last_and_every_30_s(caplog):
    clock = Clock()
    progress = Progress(100, label="extract", unit="images", every=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="fmeval"):
        for _ in range(100):
            clock.now += 1.0  # one image a second: 100 s in all
            progress.update()
    lines = [r.getMessage() for r in caplog.records]
    # t=1 (first), 31, 61, 91, and t=100 (last)
    assert len(lines) == 5
    assert lines[0].startswith("extract: 1/100 images (1.0%), 1.0 images/s, ETA 1 min 39 s")
    assert lines[-1] == "extract: 100/100 images (100.0%), 1.0 images/s, done in 1 min 40 s"
    assert progress.rate == pytest.approx(1.0)


def test_rate_is_zero_before_time_passes():
    clock = Clock()
    progress = Progress(10, label="k-NN", clock=clock)
    assert progress.rate == 0.0
    assert "ETA" not in progress.line()
