"""Windows events as JSON lines, and generic ECS JSON lines (R4–R7, R11).

Three Windows shapes are read into the same flat record as EVTX and normalized by
:mod:`kizuki.sources.windows`:

- OTRF Security-Datasets exports: one flat object per line, ``EventID``, ``Channel``,
  ``Hostname``, ``SourceName`` and the EventData names at the top level;
- Winlogbeat 7/8 (ECS): ``winlog.event_data``, ``winlog.event_id``, ``winlog.channel``;
- Winlogbeat 6: ``event_data``, ``event_id``, ``log_name``, ``computer_name``.

Other ECS JSON lines (nested objects as Elastic writes them, e.g. the shared benchmark
workload) are read by :class:`EcsJsonParser`: their fields are already normalized.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.sources.base import (
    LineParser,
    ParseContext,
    SourceFile,
    first_json_object,
    json_object,
)
from kizuki.sources.registry import register
from kizuki.sources.windows import mapping, normalize


def parse_time(value: Any, where: str = "@timestamp") -> datetime:
    """An ISO 8601 timestamp or epoch number as aware UTC; naive ISO means UTC."""
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
            if ts.tzinfo is UTC:
                return ts
        except ValueError:
            raise RecordError(
                f"{where}: not an ISO 8601 time: {value!r}", kind="bad-time"
            ) from None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    raise RecordError(f"missing or invalid {where}", kind="bad-time")


def _winlog_record(obj: dict[str, Any]) -> tuple[dict[str, Any], Any] | None:
    """Winlogbeat 6/7/8 or OTRF object → (flat Windows record, time value)."""
    winlog = obj.get("winlog")
    if isinstance(winlog, dict) and ("event_id" in winlog or "channel" in winlog):
        record: dict[str, Any] = {
            "EventID": _int(winlog.get("event_id")),
            "Channel": winlog.get("channel"),
            "Computer": winlog.get("computer_name"),
            "Provider_Name": winlog.get("provider_name"),
            "Provider_Guid": winlog.get("provider_guid"),
            "EventRecordID": winlog.get("record_id"),
        }
        data = winlog.get("event_data") or {}
        user_data = winlog.get("user_data") or {}
        record.update(data if isinstance(data, dict) else {})
        record.update(user_data if isinstance(user_data, dict) else {})
        return {k: v for k, v in record.items() if v is not None}, obj.get("@timestamp")
    if "event_data" in obj or ("event_id" in obj and "log_name" in obj):
        record = {
            "EventID": _int(obj.get("event_id")),
            "Channel": obj.get("log_name"),
            "Computer": obj.get("computer_name"),
            "Provider_Name": obj.get("source_name"),
            "EventRecordID": obj.get("record_number"),
        }
        data = obj.get("event_data") or {}
        record.update(data if isinstance(data, dict) else {})
        return {k: v for k, v in record.items() if v is not None}, obj.get("@timestamp")
    if "EventID" in obj and any(k in obj for k in _FLAT_MARKERS):
        return _flat_record(obj)
    return None


_FLAT_MARKERS = ("Channel", "SourceName", "EventLog", "Hostname", "Computer")
_TIME_KEYS = ("@timestamp", "TimeCreated", "EventTime", "TimeGenerated", "UtcTime")
_XML_DATA = re.compile(r'<Data Name="([^"]+)"\s*(?:/>|>(.*?)</Data>)', re.S)
# Log Analytics (Microsoft Sentinel) adds type suffixes to column names.
_TYPE_SUFFIXES = ("_string", "_dynamic", "_int", "_long", "_bool", "_double")


def _flat_record(obj: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """OTRF Security-Datasets flat exports, including Log Analytics table rows."""
    record: dict[str, Any] = {}
    for key, value in obj.items():
        for suffix in _TYPE_SUFFIXES:
            if key.endswith(suffix):
                key = key[: -len(suffix)]
                break
        record[key] = value
    data = record.get("EventData")
    if isinstance(data, str):
        # Log Analytics keeps EventData as a JSON or XML string: expand it in place.
        del record["EventData"]
        text = data.strip()
        if text.startswith("{"):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                record.update(parsed)
        elif text.startswith("<"):
            for name, value in _XML_DATA.findall(text):
                record[name] = html.unescape(value)
    for key in ("@timestamp", "@version", "TimeGenerated"):
        record.pop(key, None)
    record["EventID"] = _int(record.get("EventID"))
    if "Channel" not in record:
        if "EventLog" in record:
            record["Channel"] = record["EventLog"]
        elif obj.get("Type") == "SecurityEvent":
            record["Channel"] = "Security"
    for alias, name in (("SourceName", "Provider_Name"), ("EventSourceName", "Provider_Name"),
                        ("Provider", "Provider_Name"), ("Source", "Provider_Name"),
                        ("Hostname", "Computer")):
        if name not in record and isinstance(record.get(alias), str):
            record[name] = record[alias]
    when = next((obj[k] for k in _TIME_KEYS if obj.get(k)), None)
    return record, when


def _int(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


@register
class WindowsJsonParser(LineParser[None]):
    """Windows event logs exported as JSON lines (Winlogbeat, OTRF Security-Datasets)."""

    NAME = "windows-json"
    DESCRIPTION = "Windows events as JSON lines: Winlogbeat 6/7/8, OTRF Security-Datasets"

    def sniff(self, head: bytes, name: str) -> int:
        obj = first_json_object(head)
        if obj is None:
            return 0
        return 85 if _winlog_record(obj) is not None else 0

    def parse_line(self, line: bytes, offset: int, state: None, ctx: ParseContext
                   ) -> Event | None:
        obj = json_object(line)
        found = _winlog_record(obj)
        if found is None:
            raise RecordError("not a Windows event (no EventID/Channel)", kind="not-windows")
        original, when = found
        fields, logsource = normalize(original)
        message = obj.get("message") or obj.get("Message")
        source = ctx.source
        return Event(
            timestamp=parse_time(when),
            data_type="windows:json:record",
            fields=fields,
            original=original,
            logsource=logsource,
            origin=Origin(source.path, offset, source.member),
            message=message if isinstance(message, str) else None,
        )


def _flatten_into(obj: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in obj.items():
        if type(value) is dict:
            _flatten_into(value, f"{prefix}{key}.", out)
        else:
            out[prefix + key] = value


# Dotted names are built once per (object, key) pair and reused, so that every event's
# field dict shares the same key objects (no concatenation, cached hashes).
_DOTTED: dict[str, dict[str, str]] = {}


def flatten_ecs(obj: dict[str, Any]) -> dict[str, Any]:
    """Nested ECS objects into flat dotted keys; the first two levels are unrolled."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if type(value) is dict:
            names = _DOTTED.get(key)
            if names is None:
                names = _DOTTED[key] = {}
            for sub, inner in value.items():
                name = names.get(sub)
                if name is None:
                    name = names[sub] = f"{key}.{sub}"
                if type(inner) is dict:
                    _flatten_into(inner, name + ".", out)
                else:
                    out[name] = inner
        else:
            out[key] = value
    return out


def ecs_logsource(fields: dict[str, Any]) -> LogSource:
    """The Sigma logsource of flat ECS fields (Windows channel/event code, else module)."""
    channel = fields.get("winlog.channel")
    code = fields.get("event.code")
    if isinstance(channel, str) or code is not None:
        m = mapping()
        try:
            eid = int(code) if code is not None else 0
        except (TypeError, ValueError):
            eid = 0
        if isinstance(channel, str):
            return m.spec(channel, eid).logsource
        if ("security", eid) in m.events:
            return m.spec("Security", eid).logsource
    module = fields.get("event.module")
    dataset = fields.get("event.dataset")
    return LogSource(
        str(module) if module else None,
        str(dataset).rsplit(".", 1)[-1] if dataset else None,
        None,
    )


_logsource_cache: dict[tuple[Any, Any, Any, Any], LogSource] = {}


@register
class EcsJsonParser(LineParser[None]):
    """JSON lines already in Elastic Common Schema (nested objects, ``@timestamp``)."""

    NAME = "ecs-json"
    DESCRIPTION = "ECS JSON lines (Elastic/Filebeat output, the shared benchmark workload)"

    def sniff(self, head: bytes, name: str) -> int:
        obj = first_json_object(head)
        if obj is None or "@timestamp" not in obj:
            return 0
        ecs_keys = {"event", "host", "source", "destination", "user", "process", "ecs"}
        return 60 if any(isinstance(obj.get(k), dict) for k in ecs_keys) else 0

    def parse_line(self, line: bytes, offset: int, state: None, ctx: ParseContext
                   ) -> Event | None:
        obj = json_object(line)
        when = obj.pop("@timestamp", None)
        fields = flatten_ecs(obj)
        key = (fields.get("winlog.channel"), fields.get("event.code"),
               fields.get("event.module"), fields.get("event.dataset"))
        logsource = _logsource_cache.get(key)
        if logsource is None:
            logsource = _logsource_cache.setdefault(key, ecs_logsource(fields))
        message = fields.pop("message", None)
        source = ctx.source
        return Event(
            timestamp=parse_time(when),
            data_type="ecs:json:record",
            fields=fields,
            # ECS input has no other names: the original record is the same mapping.
            original=fields,
            logsource=logsource,
            origin=Origin(source.path, offset, source.member),
            message=message if isinstance(message, str) else None,
        )


def read_ecs_file(source: SourceFile, ctx: ParseContext) -> Iterator[Event]:
    """Read one ECS JSON-lines source (a shortcut for benchmarks and tests)."""
    return EcsJsonParser().parse(source, ctx)
