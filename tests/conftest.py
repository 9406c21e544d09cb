"""Shared fixtures: the repository's own samples and, when present, ../shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuki.model import Event
from kizuki.sources import Reader, SourceSettings

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


@pytest.fixture
def shared_data() -> Path:
    """The public labelled data sets beside the checkout (CI has them; a clone may not)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data sets not found at {SHARED} (only present beside the "
                    "project's CI checkout); the repository's own samples still run")
    return SHARED
