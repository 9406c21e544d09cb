"""Log sources: one registered parser per format, with format sniffing (R1–R9, R17)."""

from kizuki.sources.base import LineParser, ParseContext, Parser, SourceFile, SourceSettings
from kizuki.sources.reader import Reader, ReadStats, iter_sources

__all__ = [
    "LineParser",
    "ParseContext",
    "Parser",
    "ReadStats",
    "Reader",
    "SourceFile",
    "SourceSettings",
    "iter_sources",
]
