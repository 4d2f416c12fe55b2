"""The report's inputs and outputs as tables: read by their known columns, shown as HTML tables.

A stage table that lacks a column the report reads is a :class:`DataError` naming the
table and the columns; nothing guesses other spellings.
"""

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fmeval.errors import DataError
from fmeval.io.reading import reading

RERUN = "rerun the rule that writes it"


def read_table(path: str | os.PathLike, *, columns: Sequence[str]) -> pd.DataFrame:
    """A stage's CSV table, which must have ``columns`` (it may have more)."""
    with reading(path, what="report table", fix=RERUN):
        table = pd.read_csv(path, float_precision="round_trip")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"report table {path} lacks the column(s) {missing} (it has {list(table.columns)}); "
            f"it was written by an older fmeval: {RERUN}"
        )
    return table


def pick(paths: Sequence[str], name: str) -> str:
    """The one path in ``paths`` whose file name is ``name``."""
    found = [p for p in paths if Path(p).name == name]
    if len(found) != 1:
        raise DataError(f"the report expects one {name} among its inputs, got {found}")
    return found[0]


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value, digits: int = 3, spread=None) -> str:
    """A number for a table cell: ``–`` when missing, integers as they are, else ``digits``
    decimals, and ``mean ± spread`` when a spread is given.
    """
    if is_missing(value):
        return "–"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = f"{value:.{digits}f}"
    if not is_missing(spread):
        text += f" ± {spread:.{digits}f}"
    return text


@dataclass
class Cell:
    text: str
    cls: str = ""  # CSS classes: "num", "best", "chance", "note"
    title: str = ""  # a tooltip


@dataclass
class Row:
    cells: list[Cell]
    cls: str = ""  # "random" marks a row made with random weights
    attrs: dict[str, str] = field(default_factory=dict)  # data-* attributes (read by the tests)


@dataclass
class Table:
    """What the ``table`` macro of the templates draws: an HTML table in a scrolling box."""

    id: str
    header: list[Cell]
    rows: list[Row]
    caption: str = ""


Column = tuple[str, str | Callable[[pd.Series], Cell]]


def html_table(
    id: str,
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    caption: str = "",
    digits: int = 3,
    random_rows: bool = True,
) -> Table:
    """``frame`` as a :class:`Table`. ``columns`` pairs each header with a column of ``frame``
    (numbers get ``digits`` decimals) or with a function of the row that returns a
    :class:`Cell`. Rows whose ``random_init`` is true are marked ``random``.
    """
    rows = []
    for _, r in frame.iterrows():
        cells = [
            col(r) if callable(col) else Cell(fmt(r[col], digits), _num(r[col]))
            for _, col in columns
        ]
        random = random_rows and "random_init" in r and _true(r["random_init"])
        rows.append(Row(cells, "random" if random else ""))
    # headers align as their column's first cell (numbers right, text left)
    first = rows[0].cells if rows else [Cell("")] * len(columns)
    header = [Cell(label, "num" if "num" in c.cls else "") for (label, _), c in zip(columns, first)]
    return Table(id, header, rows, caption)


def _num(value) -> str:
    return "" if isinstance(value, str) else "num"


def _true(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value) and not is_missing(value)
