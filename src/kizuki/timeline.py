"""Presentation of events as a readable timeline in the terminal (rich)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kizuki.model import Event
from kizuki.sources.reader import ReadStats

_OUTCOME_STYLE = {"failure": "red", "success": "green"}


def summary(event: Event) -> str:
    """One line saying what happened and how (R10), for people."""
    f = event.fields
    parts: list[str] = []
    action = f.get("event.action")
    if action:
        parts.append(str(action))
    elif f.get("event.code") is not None:
        provider = f.get("event.provider") or f.get("winlog.channel") or event.data_type
        parts.append(f"{provider} {f['event.code']}")
    for label, key in (("proc", "process.command_line"), ("proc", "process.executable"),
                       ("file", "file.path"), ("url", "url.original"),
                       ("query", "dns.question.name"), ("rule", "rule.name")):
        value = f.get(key)
        if value:
            parts.append(f"{label}={value}")
            break
    src, dst = f.get("source.ip"), f.get("destination.ip")
    if src or dst:
        arrow = f"{src or '?'}"
        if f.get("source.port"):
            arrow += f":{f['source.port']}"
        arrow += f" → {dst or '?'}"
        if f.get("destination.port"):
            arrow += f":{f['destination.port']}"
        parts.append(arrow)
    if not parts and event.message:
        parts.append(event.message)
    elif event.message and event.data_type == "kizuki:observation":
        parts.append(f"“{event.message}”")
    text = "  ".join(parts)
    return text if len(text) <= 160 else text[:157] + "…"


@dataclass
class TimelineCollector:
    """Keeps the earliest ``limit`` events (by time) of a stream of any length."""

    limit: int
    seen: int = 0
    _heap: list[tuple[float, int, Event]] = field(default_factory=list)
    _tie: count[int] = field(default_factory=count)

    def add(self, event: Event) -> None:
        self.seen += 1
        # Max-heap on time through negated keys: the latest kept event is dropped first.
        item = (-event.timestamp.timestamp(), -next(self._tie), event)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    def events(self) -> list[Event]:
        return [e for _, _, e in sorted(self._heap, reverse=True)]


def timeline_table(events: Iterable[Event], tz: ZoneInfo, title: str = "Timeline") -> Table:
    """A rich table: when (in the display zone), device, who, source, what and how."""
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    table.add_column(f"time ({tz.key})", no_wrap=True)
    table.add_column("host", no_wrap=True)
    table.add_column("user", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("what / how")
    for event in events:
        outcome = event.fields.get("event.outcome")
        what = Text(summary(event), style=_OUTCOME_STYLE.get(str(outcome), ""))
        table.add_row(
            event.timestamp.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            event.host or "",
            event.user or "",
            event.data_type,
            what,
        )
    return table


def stats_table(stats: ReadStats) -> Table:
    """Counts per input file: format, events, warnings."""
    table = Table(title="Inputs", title_justify="left")
    table.add_column("file")
    table.add_column("format")
    table.add_column("events", justify="right")
    table.add_column("warnings", justify="right")
    for f in stats.files:
        table.add_row(f.path, f.format, str(f.records),
                      Text(str(f.warnings), style="yellow" if f.warnings else ""))
    return table


def print_warnings_summary(console: Console, stats: ReadStats) -> None:
    kinds = stats.per_warning_kind()
    if kinds:
        text = ", ".join(f"{k}: {v}" for k, v in kinds.most_common())
        console.print(f"[yellow]{stats.warnings} warnings[/] ({text})")
