"""The page's sections. A section is one partial template plus one context function.

To add a section for a new branch (say ``video``):

1. ``rules/report.smk``: two named inputs of ``build_report``, ``video_tables`` and
   ``video_figures``, listing the stage's report outputs (``rules.report_video.output.<name>``
   and ``expand(...)`` for per-item figures).
2. ``fmeval/report/sections/video.py``: ``context(files, config) -> dict``, reading the tables
   by their known columns (:func:`fmeval.report.tables.read_table`) and returning what the
   template shows, plus ``random_reasons`` (a list of sentences; non-empty adds to the banner).
3. ``fmeval/report/templates/sections/video.html.j2``: the partial; it sees the dict as
   ``s`` and may use the macros of ``macros.html.j2`` (``table``, ``figure``, ``note``).
4. One line in :data:`SECTIONS` below (its place there is its place on the page).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fmeval.report.sections import classify, ct, segmentation, video


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


SECTIONS = (
    Section("segmentation", "Segmentation", segmentation.context),
    Section("ct", "CT reconstruction", ct.context),
    Section("video", "Video segmentation", video.context),
    Section("classify", "Image classification", classify.context),
)
