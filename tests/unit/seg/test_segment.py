"""The test-image figure: ground truth, prediction and their overlay."""

import numpy as np
from PIL import Image

from fmeval.seg.segment import draw_triptych, overlay, triptych_panels


def test_overlay_colours_agreement_false_positives_and_misses():
    image = np.zeros((4, 4, 3), np.uint8)
    truth = np.array([[1, 1], [0, 0]], bool)
    mask = np.array([[1, 0], [1, 0]], bool)
    out = overlay(image, truth, mask)
    assert out.shape == (4, 4, 3)
    green, blue, red, none = out[0, 0], out[0, 3], out[3, 0], out[3, 3]
    assert green.argmax() == 1 and blue.argmax() == 2 and red.argmax() == 0
    assert none.max() == 0  # neither: the (black) image, dimmed


def test_panels_with_and_without_a_mask(tmp_path):
    assert "ground truth" in triptych_panels(True) and "overlay" in triptych_panels(True)
    assert "ground truth" not in triptych_panels(False)
    image = np.full((28, 28, 3), 200, np.uint8)
    scores = np.linspace(0, 1, 4).reshape(2, 2)
    widths = {}
    for has_mask in (True, False):
        out = tmp_path / f"{has_mask}.png"
        truth = scores > 0.4 if has_mask else None
        draw_triptych(image, scores, scores > 0.5, truth=truth, threshold=0.5, title="t", out=out)
        widths[has_mask] = Image.open(out).size[0]
    assert widths[True] > widths[False] * 1.4  # five panels against three
