"""Collects generated records per log file, orders them in time and writes them.

Records are produced story by story (ambient noise, then the scenario, then decoys), not
in time order; the logbook sorts each file by time, with the order of creation breaking
ties, so the output is deterministic. It remembers where every record landed (line and
byte offset, and the Windows record id) so the ground truth can point at it.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: A record rendered once its Windows ``record_id`` is known (other formats ignore it).
Render = Callable[[int], str]


@dataclass(frozen=True, slots=True)
class Location:
    """Where one record sits in the output: file, 1-based line, byte offset of the line.

    ``record_id`` and ``computer`` are set for Windows events (``winlog.record_id`` is
    numbered per computer and channel, as the Event Log does).
    """

    file: str
    line: int
    offset: int
    record_id: int | None = None
    computer: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self.file, "line": self.line, "offset": self.offset}
        if self.record_id is not None:
            out["record_id"] = self.record_id
            out["computer"] = self.computer
        return out


@dataclass(slots=True)
class _Entry:
    ts: datetime
    seq: int
    render: Render | str
    # (computer, channel) for Windows records: they get a record id when written.
    counter: tuple[str, str] | None


@dataclass(slots=True)
class FileInfo:
    """What was written to one file: lines, bytes and its SHA-256."""

    lines: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"lines": self.lines, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(slots=True)
class Logbook:
    """Per-file record lists plus optional header and footer lines (Zeek)."""

    entries: dict[str, list[_Entry]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)
    footers: dict[str, list[str]] = field(default_factory=dict)
    _seq: int = 0

    def add(self, file: str, ts: datetime, line: str | Render,
            counter: tuple[str, str] | None = None) -> int:
        """Queue one record for ``file``; returns a handle to look up its location."""
        self._seq += 1
        self.entries.setdefault(file, []).append(_Entry(ts.astimezone(UTC), self._seq, line,
                                                        counter))
        return self._seq

    def frame(self, file: str, header: list[str], footer: list[str]) -> None:
        """Lines written before and after the records of ``file``."""
        self.headers[file] = header
        self.footers[file] = footer
        self.entries.setdefault(file, [])

    def write(self, out_dir: Path, mtime: datetime) -> tuple[dict[int, Location],
                                                             dict[str, FileInfo]]:
        """Write every file under ``out_dir``; return record locations and file facts.

        ``mtime`` is stamped on each file, so that readers inferring the year of
        RFC 3164 lines from the file time get the generated week's year.
        """
        where: dict[int, Location] = {}
        infos: dict[str, FileInfo] = {}
        for name in sorted(self.entries):
            data = self._render(name, where)
            path = out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.utime(path, (mtime.timestamp(), mtime.timestamp()))
            infos[name] = FileInfo(data.count(b"\n"), len(data),
                                   hashlib.sha256(data).hexdigest())
        return where, infos

    def _render(self, name: str, where: dict[int, Location]) -> bytes:
        """The bytes of one file, noting where each record lands in ``where``."""
        lines = [text.encode("utf-8") + b"\n" for text in self.headers.get(name, [])]
        offset = sum(len(line) for line in lines)
        counters: dict[tuple[str, str], int] = {}
        for entry in sorted(self.entries[name], key=lambda e: (e.ts, e.seq)):
            record_id: int | None = None
            if entry.counter is not None:
                # Each computer's log starts at its own (stable) number, as a real Event
                # Log that has been running for a while does.
                previous = counters.get(entry.counter)
                if previous is None:
                    previous = 10_000 + zlib.crc32("/".join(entry.counter).encode()) % 900_000
                record_id = previous + 1
                counters[entry.counter] = record_id
            text = entry.render if isinstance(entry.render, str) else entry.render(
                record_id or 0)
            where[entry.seq] = Location(name, len(lines) + 1, offset, record_id,
                                        entry.counter[0] if entry.counter else None)
            line = text.encode("utf-8") + b"\n"
            lines.append(line)
            offset += len(line)
        lines += [text.encode("utf-8") + b"\n" for text in self.footers.get(name, [])]
        return b"".join(lines)
