"""Analyst observations: human signals as events on the timeline (R17).

"Three phishing calls to the finance team today" is evidence too. ``kizuki observe``
writes one JSON line per observation; this parser reads them back, with the analyst as
the event's source, so observations join the same stream as machine logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.sources.base import LineParser, ParseContext, first_json_object, json_object
from kizuki.sources.registry import register
from kizuki.sources.winjson import parse_time

MARKER = "kizuki_observation"
LOGSOURCE = LogSource("kizuki", "observation", "analyst_observation")


@dataclass(slots=True)
class Observation:
    """One human signal, as an analyst reports it."""

    text: str
    analyst: str
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    tags: list[str] = field(default_factory=list)
    severity: str = "low"

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            MARKER: 1,
            "@timestamp": self.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "analyst": self.analyst,
            "text": self.text,
            "severity": self.severity,
        }
        if self.host:
            doc["host"] = self.host
        if self.user:
            doc["user"] = self.user
        if self.source_ip:
            doc["source_ip"] = self.source_ip
        if self.tags:
            doc["tags"] = self.tags
        return orjson.dumps(doc)


_SEVERITIES = {"low": 21, "medium": 47, "high": 73, "critical": 99}


def to_event(doc: dict[str, Any], origin: Origin) -> Event:
    """The normalized event of one observation document."""
    text = doc.get("text")
    analyst = doc.get("analyst")
    if not isinstance(text, str) or not text.strip():
        raise RecordError("observation has no text", kind="bad-observation")
    if not isinstance(analyst, str) or not analyst.strip():
        raise RecordError("observation names no analyst", kind="bad-observation")
    severity = str(doc.get("severity") or "low").lower()
    if severity not in _SEVERITIES:
        raise RecordError(f"severity must be one of {', '.join(_SEVERITIES)}: {severity!r}",
                          kind="bad-observation")
    fields: dict[str, Any] = {
        "event.kind": "event",
        "event.category": ["threat"],
        "event.action": "analyst-observation",
        "event.provider": "analyst",
        "event.severity": _SEVERITIES[severity],
        "observer.type": "analyst",
        "observer.name": analyst,
    }
    if doc.get("host"):
        fields["host.name"] = doc["host"]
    if doc.get("user"):
        fields["user.name"] = doc["user"]
    if doc.get("source_ip"):
        fields["source.ip"] = doc["source_ip"]
    tags = doc.get("tags") or []
    return Event(
        timestamp=parse_time(doc.get("@timestamp")),
        data_type="kizuki:observation",
        fields=fields,
        original={k: v for k, v in doc.items() if k != MARKER},
        logsource=LOGSOURCE,
        origin=origin,
        message=text,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
    )


@register
class ObservationParser(LineParser[None]):
    """The JSON lines ``kizuki observe`` writes."""

    NAME = "observation"
    DESCRIPTION = "Analyst observations written by `kizuki observe` (R17)"

    def sniff(self, head: bytes, name: str) -> int:
        obj = first_json_object(head)
        return 95 if obj is not None and MARKER in obj else 0

    def parse_line(self, line: bytes, offset: int, state: None, ctx: ParseContext
                   ) -> Event | None:
        doc = json_object(line)
        return to_event(doc, Origin(ctx.source.path, offset, ctx.source.member))
