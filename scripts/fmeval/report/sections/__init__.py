"""The page's sections: one per branch (:data:`fmeval.branches.BRANCHES`, in its order).

A section is one partial template plus one context function. A branch ``<name>`` has:

1. in its rules file, ``register_branch("<name>", tables=[...], figures=[...])``: the
   inputs ``<name>_tables`` and ``<name>_figures`` of ``build_report`` (rules/common.smk);
2. ``fmeval/report/sections/<name>.py``: ``context(files, config) -> dict``, reading the
   tables by their known columns (:func:`fmeval.report.tables.read_table`) and returning what
   the template shows, plus ``random_reasons`` (a list of sentences; non-empty adds to the
   banner);
3. ``fmeval/report/templates/sections/<name>.html.j2``: the partial; it sees the dict as
   ``s`` and may use the macros of ``macros.html.j2`` (``table``, ``figure``, ``note``).

Its title and place on the page are its registry record's.
"""

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fmeval.branches import BRANCHES


@dataclass
class SectionFiles:
    """A section's inputs: the tables and figures its stage listed for the report."""

    tables: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.tables or self.figures)


@dataclass(frozen=True)
class Section:
    id: str  # the HTML anchor, the template name and the prefix of build_report's inputs
    title: str
    context: Callable[[SectionFiles, Mapping], dict]

    @property
    def template(self) -> str:
        return f"sections/{self.id}.html.j2"


SECTIONS = tuple(
    Section(b.name, b.title, importlib.import_module(f"{__name__}.{b.name}").context)
    for b in BRANCHES
)
