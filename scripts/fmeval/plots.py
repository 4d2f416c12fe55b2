"""Shared figure and table helpers: the random-weights banner, titles, atomic PNG/SVG/CSV writes.

The matplotlib backend is set once for every job (``MPLBACKEND=Agg`` in
``rules/common.smk``); headless machines pick Agg by themselves.
"""

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from fmeval.io.atomic import atomic_path

RANDOM_BANNER = "RANDOM-INIT WEIGHTS (test only, not a real evaluation)"
DPI = 100


def banner(meta: dict) -> str:
    """The banner line for figure titles: loud for random weights, else the weights' identity."""
    return RANDOM_BANNER if meta.get("random_init") else f"weights {meta.get('weights', '?')}"


def title(text: str, random_init: bool) -> str:
    """A figure title, with the random-weights banner above it when the weights were random."""
    return f"{RANDOM_BANNER}\n{text}" if random_init else text


def title_lines(meta: dict, image: str, extra: Sequence[str] = ()) -> str:
    """The title of a per-image figure: dataset / model / res: image, extra lines, the banner."""
    head = f"{meta.get('dataset', '?')} / {meta.get('model', '?')} / res {meta.get('res', '?')}"
    return "\n".join([f"{head}: {image}", *extra, banner(meta)])


def save_png(fig, out: str | os.PathLike) -> None:
    """Write a figure as PNG, atomically, and close it."""
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def save_figure(fig, png: str | os.PathLike, svg: str | os.PathLike) -> None:
    """Write a figure as PNG and SVG, each atomically, and close it."""
    for path, fmt in ((png, "png"), (svg, "svg")):
        with atomic_path(path, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as CSV (no index), atomically."""
    with atomic_path(path, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)
