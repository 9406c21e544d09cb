"""Writers for normalized events (JSON lines, Parquet) and for dead letters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import orjson

from kizuki.model import Event
from kizuki.model.event import format_ts
from kizuki.sources.base import ParseWarning


class JsonlWriter:
    """Normalized events as Elastic-style nested JSON, one per line."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh

    def write(self, event: Event) -> None:
        self._fh.write(orjson.dumps(event.to_dict(), default=str) + b"\n")

    def close(self) -> None:
        self._fh.flush()


#: Columns every Parquet file of events has; the whole event is in ``event_json``.
PARQUET_COLUMNS = ("@timestamp", "data_type", "host.name", "user.name", "source.ip",
                   "destination.ip", "event.code", "event.action", "event.outcome")


class ParquetWriter:
    """Normalized events as Parquet: the key fields as columns, the rest as JSON."""

    def __init__(self, path: str | os.PathLike[str], batch_size: int = 50_000) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema(
            [pa.field("@timestamp", pa.timestamp("us", tz="UTC"))]
            + [pa.field(name, pa.string()) for name in PARQUET_COLUMNS[1:]]
            + [pa.field("event_json", pa.string())]
        )
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._rows: list[Event] = []
        self._batch_size = batch_size

    def write(self, event: Event) -> None:
        self._rows.append(event)
        if len(self._rows) >= self._batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        rows = self._rows
        columns: dict[str, list[Any]] = {"@timestamp": [e.timestamp for e in rows]}
        columns["data_type"] = [e.data_type for e in rows]
        for name in PARQUET_COLUMNS[2:]:
            columns[name] = [_str(e.fields.get(name)) for e in rows]
        columns["event_json"] = [orjson.dumps(e.to_dict(), default=str).decode() for e in rows]
        self._writer.write_table(self._pa.table(columns, schema=self._schema))
        self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class DeadLetterWriter:
    """Bad records with where and why, as JSON lines; the file is created on first use."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] | None = None
        self.count = 0

    def __call__(self, warning: ParseWarning) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # noqa: SIM115 (closed in close())
        self.count += 1
        self._fh.write(orjson.dumps(warning.to_dict()) + b"\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


__all__ = ["DeadLetterWriter", "JsonlWriter", "ParquetWriter", "format_ts"]
