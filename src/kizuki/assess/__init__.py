"""Measuring detection: labelled evaluation (``kizuki eval``) and log-source coverage
(``kizuki coverage``) of the rules and scenarios (issue 4 items 4-6; R15, R22)."""

from kizuki.assess.coverage import Coverage, Source, coverage, parse_sources, sources_from
from kizuki.assess.evaluate import (
    Evaluation,
    Explanations,
    MissReason,
    evaluate,
)
from kizuki.assess.labels import Label, Labels, load_all, load_labels, technique_covers
from kizuki.assess.library import Library, load_library
from kizuki.assess.report import render_html, render_markdown, sections, write_report

__all__ = [
    "Coverage",
    "Evaluation",
    "Explanations",
    "Label",
    "Labels",
    "Library",
    "MissReason",
    "Source",
    "coverage",
    "evaluate",
    "load_all",
    "load_labels",
    "load_library",
    "parse_sources",
    "render_html",
    "render_markdown",
    "sections",
    "sources_from",
    "technique_covers",
    "write_report",
]
