"""Log sources: one registered parser per format, with format sniffing (R1–R9, R17)."""

from kizuki.sources.base import LineParser, ParseContext, Parser, SourceFile, SourceSettings
from kizuki.sources.reader import Reader, ReadStats, iter_sources


def prepare() -> None:
    """Import every parser (entry-point plugins included) and compile the Windows field
    mapping now rather than at the first record: once per process, before workers are
    forked (each would otherwise do it again) and before a timed or latency-bound scan."""
    from kizuki.sources.registry import parsers
    from kizuki.sources.windows import mapping

    parsers()
    mapping()


__all__ = [
    "LineParser",
    "ParseContext",
    "Parser",
    "ReadStats",
    "Reader",
    "SourceFile",
    "SourceSettings",
    "iter_sources",
    "prepare",
]
