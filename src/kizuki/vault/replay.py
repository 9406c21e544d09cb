"""Stored history as an event stream, for hunts over the vault (issue 5: `hunt --vault`).

The engine is a pure function of the ordered event stream (architecture), so a hunt over
two years of stored events runs the same code as the live service: this module streams
the vault's sealed segments and unsealed tail back as :class:`~kizuki.model.Event`
objects, in time order, in record batches so memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson

from kizuki.model import Event
from kizuki.vault.query import events_source
from kizuki.vault.segments import TS_COLUMN

BATCH_ROWS = 20_000


def replay(root: str | os.PathLike[str], start: datetime | None = None,
           end: datetime | None = None) -> Iterator[Event]:
    """Every stored event in [start, end), oldest first."""
    con, source = events_source(Path(root), start, end)
    try:
        reader = con.sql(
            f'SELECT event FROM {source} ORDER BY "{TS_COLUMN}", event'
        ).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            for raw in batch.column(0).to_pylist():
                yield Event.from_dict(orjson.loads(raw))
    finally:
        con.close()
