"""Shared fixtures: the repository's own samples and, when present, ../shared data."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import pytest

from kizuki.detect import Engine
from kizuki.model import Alert, Event
from kizuki.sources import Reader, SourceSettings, registry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SHARED = (ROOT.parent / "shared" / "data").resolve()


def read_all(*paths: Path | str, settings: SourceSettings | None = None
             ) -> tuple[list[Event], Reader, list[object]]:
    """Read paths through the real Reader, collecting warnings."""
    warnings: list[object] = []
    reader = Reader(settings, sink=warnings.append)
    events = list(reader.read(list(paths)))
    return events, reader, warnings


def feed_in_batches(engine: Engine, events: Sequence[Event], sizes: Iterable[int] = ()
                    ) -> list[Alert]:
    """Feed ``events`` in batches of ``sizes``, the rest in one, and close: every alert, in
    the order the engine gave them (a live stream cut where ``sizes`` say)."""
    alerts: list[Alert] = []
    i = 0
    for size in sizes:
        alerts.extend(engine.feed(events[i:i + size]))
        i += size
    alerts.extend(engine.feed(events[i:]))
    alerts.extend(engine.close())
    return alerts


def offset_of(path: Path, start: str) -> int:
    """The byte offset of the line of ``path`` that starts with ``start``."""
    data = path.read_bytes()
    at = data.index(start.encode())
    assert at == 0 or data[at - 1:at] == b"\n"
    return at


def assert_not_sniffed_outside(folder: str, names: Collection[str]) -> None:
    """No sample of tests/data outside ``folder`` (READMEs aside) is taken by one of the
    parsers ``names``: a parser's sniffing stays off other formats."""
    others = [p for p in sorted(DATA.rglob("*")) if p.is_file() and p.parent.name != folder
              and p.suffix != ".md"]
    assert others
    for path in others:
        parser, _ = registry.sniff(path.read_bytes()[:65536], path.name)
        assert parser is None or parser.NAME not in names, path


@pytest.fixture
def shared_data() -> Path:
    """The public labelled data sets beside the checkout (CI has them; a clone may not)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data sets not found at {SHARED} (only present beside the "
                    "project's CI checkout); the repository's own samples still run")
    return SHARED
