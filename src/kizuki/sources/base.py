"""What every log parser is: a registered class that sniffs and parses one format.

A parser reads one :class:`SourceFile` (a plain file or an archive member) and yields
normalized :class:`~kizuki.model.Event` objects. A record it cannot read never stops
it: it calls :meth:`ParseContext.warn` (or raises :class:`RecordError` from
``parse_line``) and goes on, so the good records around a bad one are kept (style §3).
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

import orjson

from kizuki.errors import RecordError
from kizuki.model import Event

DEFAULT_TZ = "Asia/Tokyo"
HEAD_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """How naive inputs are read: the zone of local-time formats and the year hint.

    RFC 3164 syslog has no year and no zone, Apache writes local time: such formats are
    read in ``timezone``; the year of RFC 3164 lines comes from ``year`` or, when unset,
    from the file's modification time.
    """

    timezone: str = DEFAULT_TZ
    year: int | None = None
    #: Threads the ``evtx`` library may use per file (0: its default, one per core).
    #: Worker processes that already split the files between cores set 1.
    evtx_threads: int = 0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SourceFile:
    """One readable input: a plain file, or a member of a zip / tar / gzip archive."""

    def __init__(
        self,
        path: str,
        opener: Callable[[], IO[bytes]],
        *,
        member: str | None = None,
        real_path: str | None = None,
        mtime: datetime | None = None,
        size: int | None = None,
    ) -> None:
        self.path = path
        self.member = member
        self.real_path = real_path
        self.mtime = mtime
        self.size = size
        self._opener = opener
        self._head: bytes | None = None

    @property
    def display(self) -> str:
        return f"{self.path}!{self.member}" if self.member else self.path

    @property
    def name(self) -> str:
        """The base name used for sniffing (the member's name inside an archive)."""
        return (self.member or self.path).replace("\\", "/").rsplit("/", 1)[-1]

    def open(self) -> IO[bytes]:
        return self._opener()

    def head(self) -> bytes:
        """The first 64 KiB, read once, for format sniffing."""
        if self._head is None:
            with self.open() as fh:
                self._head = fh.read(HEAD_SIZE)
        return self._head

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> SourceFile:
        """A source held in memory (tests, HTTP ingest)."""
        return cls(name, lambda: io.BytesIO(data), size=len(data))

    def __repr__(self) -> str:
        return f"SourceFile({self.display!r})"


@dataclass(slots=True)
class ParseWarning:
    """A record that could not be read: where, what kind, why, and the raw bytes."""

    source: str
    offset: int | None
    kind: str
    message: str
    raw: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}@{self.offset}" if self.offset is not None else self.source

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "offset": self.offset,
            "kind": self.kind,
            "message": self.message,
            "raw": self.raw,
        }


WarningSink = Callable[[ParseWarning], None]


@dataclass(slots=True)
class ParseContext:
    """Per-file state handed to a parser: settings and the warning sink."""

    source: SourceFile
    settings: SourceSettings = field(default_factory=SourceSettings)
    sink: WarningSink | None = None
    warnings: Counter[str] = field(default_factory=Counter)

    def warn(
        self, offset: int | None, kind: str, message: str, raw: bytes | str | None = None
    ) -> None:
        """Record a bad record; it is counted, reported and sent to the dead-letter file."""
        self.warnings[kind] += 1
        if self.sink is not None:
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", "replace")
            if raw is not None and len(raw) > 8192:
                raw = raw[:8192] + "…"
            self.sink(ParseWarning(self.source.display, offset, kind, message, raw))

    @property
    def warning_count(self) -> int:
        return sum(self.warnings.values())


class Parser(ABC):
    """One log format. Subclasses set ``NAME`` and ``DESCRIPTION`` and are registered
    with :func:`kizuki.sources.registry.register`."""

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str] = ""
    #: Parsers that recognise a magic number sniff first (lower runs earlier); a score
    #: of 100 ends sniffing, so binary files never reach the text parsers' patterns.
    SNIFF_ORDER: ClassVar[int] = 50

    @abstractmethod
    def sniff(self, head: bytes, name: str) -> int:
        """How sure this parser is that a file starting with ``head`` is its format.

        0 means "not mine"; the highest score wins. Use 100 for a magic number, about
        80 for a decisive first line, 50 for a plausible one, 10 for a name alone.
        """

    @abstractmethod
    def parse(self, source: SourceFile, ctx: ParseContext) -> Iterator[Event]:
        """Yield the events of ``source``; report bad records through ``ctx.warn``."""


S = TypeVar("S")


class LineParser(Parser, Generic[S]):
    """A format with one record per line (or per line group, with ``finish``).

    ``parse_line`` gets the line without its end-of-line bytes and its byte offset,
    and returns an event, ``None`` to skip the line (comments, headers), or raises
    :class:`RecordError`; the line then becomes a warning and a dead letter.
    A parser that needs per-file state (a Zeek header, an IIS ``#Fields`` line,
    auditd records spread over lines) creates it in ``new_state``.
    """

    def new_state(self, source: SourceFile, ctx: ParseContext) -> S:
        return None  # type: ignore[return-value]

    @abstractmethod
    def parse_line(self, line: bytes, offset: int, state: S, ctx: ParseContext) -> Event | None:
        ...

    def finish(self, state: S, ctx: ParseContext) -> Iterator[Event]:
        """Events still buffered in ``state`` at the end of the file."""
        return iter(())

    def parse(self, source: SourceFile, ctx: ParseContext) -> Iterator[Event]:
        state = self.new_state(source, ctx)
        parse_line = self.parse_line
        offset = 0
        with source.open() as fh:
            for raw in fh:
                size = len(raw)
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    try:
                        event = parse_line(line, offset, state, ctx)
                    except RecordError as exc:
                        ctx.warn(offset, exc.kind, exc.message, line)
                    except (ValueError, KeyError, TypeError, IndexError) as exc:
                        # A parser bug on odd input must cost one record, not the file.
                        ctx.warn(offset, "bad-record", f"{type(exc).__name__}: {exc}", line)
                    else:
                        if event is not None:
                            yield event
                offset += size
        yield from self.finish(state, ctx)


def json_object(line: bytes) -> dict[str, Any]:
    """One JSON-lines record as an object, or a :class:`RecordError` saying why not."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON: {exc}", kind="bad-json") from None
    if type(obj) is not dict:
        raise RecordError("a JSON line must hold an object", kind="bad-json")
    return obj


def first_json_object(head: bytes) -> dict[str, Any] | None:
    """The first JSON object line of a file head, for sniffing; ``None`` if there is none.

    Only the first non-empty line counts: a JSON-lines file starts with a record.
    """
    for raw in head.lstrip(b"\xef\xbb\xbf").split(b"\n", 5)[:5]:
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(b"{"):
            return None
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None
    return None
