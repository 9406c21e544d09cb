"""Windows EVTX files through the ``evtx`` library (Rust), any channel (R4–R7, R9).

Each record's XML tree is flattened the way Sigma rules expect: the System fields under
stable names (``EventID``, ``Channel``, ``Computer``, ``Provider_Name`` …) and the
``EventData``/``UserData`` values under their own names (``TargetUserName``, ``Image``),
then normalized by :mod:`kizuki.sources.windows`. Records the library reports as broken
become warnings with the record number or chunk it names; the rest of the file counts.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import evtx as pyevtx
import orjson

from kizuki.model import Event, Origin
from kizuki.sources.base import ParseContext, Parser, SourceFile
from kizuki.sources.registry import register
from kizuki.sources.windows import normalize

_MAGIC = b"ElfFile\x00"
_RECORD_NO = re.compile(r"record number (\d+)")
_CHUNK_NO = re.compile(r"chunk number (\d+)")
# Windows writes 100 ns ticks (7 digits); datetime keeps microseconds.
_EXCESS_FRACTION = re.compile(r"(\.\d{6})\d+")

# System element -> flat name; attributes are reached through "#attributes".
_SYSTEM_ATTRS: tuple[tuple[str, str, str], ...] = (
    ("Provider", "Name", "Provider_Name"),
    ("Provider", "Guid", "Provider_Guid"),
    ("Provider", "EventSourceName", "EventSourceName"),
    ("Execution", "ProcessID", "Execution_ProcessID"),
    ("Execution", "ThreadID", "Execution_ThreadID"),
    ("Security", "UserID", "Security_UserID"),
    ("Correlation", "ActivityID", "ActivityID"),
    ("Correlation", "RelatedActivityID", "RelatedActivityID"),
)
_SYSTEM_ATTRS_BY_ELEMENT: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = tuple(
    (element, tuple((attr, name) for e, attr, name in _SYSTEM_ATTRS if e == element))
    for element in dict.fromkeys(e for e, _, _ in _SYSTEM_ATTRS)
)
_SYSTEM_PLAIN = ("Version", "Level", "Task", "Opcode", "Keywords", "EventRecordID",
                 "Channel", "Computer")


def _attrs(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs
    return {}


def _leaf(value: Any) -> Any:
    """A value node: ``{"#text": v}`` is ``v``; attributes alone are dropped."""
    if isinstance(value, dict):
        if "#text" in value:
            return value["#text"]
        rest = {k: v for k, v in value.items() if k != "#attributes"}
        return rest or None
    return value


def _flatten_data(node: Any, out: dict[str, Any], prefix: str = "") -> None:
    """EventData / UserData children into flat names (nested names joined with '.')."""
    if not isinstance(node, dict):
        if node is not None:
            out[prefix or "Data"] = node
        return
    for key, value in node.items():
        if key == "#attributes":
            continue
        if key == "#text":
            out[prefix or "Data"] = value
            continue
        value = _leaf(value)
        if isinstance(value, dict):
            _flatten_data(value, out, f"{prefix}.{key}" if prefix else key)
        elif value is not None or key not in out:
            out[f"{prefix}.{key}" if prefix else key] = value


def flatten_record(record: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """A parsed EVTX record → (flat original fields, SystemTime, rendered message)."""
    event = record.get("Event", record)
    system = event.get("System") or {}
    out: dict[str, Any] = {}
    eid = system.get("EventID")
    if type(eid) is dict:
        qualifiers = _attrs(eid).get("Qualifiers")
        if qualifiers is not None:
            out["Qualifiers"] = qualifiers
        eid = eid.get("#text")
    out["EventID"] = eid
    # Hot path: attribute lookups inlined, one element lookup for all its attributes
    # (this runs for every record).
    for element, pairs in _SYSTEM_ATTRS_BY_ELEMENT:
        node = system.get(element)
        if type(node) is dict:
            attrs = node.get("#attributes")
            if attrs:
                for attr, name in pairs:
                    value = attrs.get(attr)
                    if value is not None:
                        out[name] = value
    for name in _SYSTEM_PLAIN:
        value = system.get(name)
        if value is not None:
            out[name] = _leaf(value) if type(value) is dict else value
    created = system.get("TimeCreated")
    systime = _attrs(created).get("SystemTime") if created else None
    data = event.get("EventData")
    if type(data) is dict:
        for key, value in data.items():
            if type(value) is dict or key == "#attributes" or key == "#text":
                _flatten_data({key: value}, out)
            else:
                out[key] = value
    elif data is not None:
        _flatten_data(data, out)
    user_data = event.get("UserData")
    if isinstance(user_data, dict):
        # UserData wraps its fields in one provider-specific element: take its leaves.
        for child in user_data.values():
            _flatten_data(_leaf(child), out)
    message = None
    rendering = event.get("RenderingInfo")
    if isinstance(rendering, dict):
        msg = _leaf(rendering.get("Message"))
        message = msg if isinstance(msg, str) else None
    return out, systime, message


def parse_systime(value: str | None, fallback: str | None = None) -> datetime:
    """System/TimeCreated/@SystemTime, else the record header's time (library format)."""
    if not value:
        if not fallback:
            raise ValueError("record has no System/TimeCreated/@SystemTime")
        value = fallback.removesuffix(" UTC").replace(" ", "T")
    try:
        # The usual form ("2016-06-29T15:24:34.346000Z") parses as it is.
        ts = datetime.fromisoformat(value)
    except ValueError:
        ts = datetime.fromisoformat(_EXCESS_FRACTION.sub(r"\1", value))
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


@register
class EvtxParser(Parser):
    """Windows XML event log files (``.evtx``)."""

    NAME = "evtx"
    SNIFF_ORDER = 0
    DESCRIPTION = "Windows EVTX event log (any channel: Security, System, Sysmon, PowerShell…)"

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads

    def sniff(self, head: bytes, name: str) -> int:
        if head.startswith(_MAGIC):
            return 100
        return 10 if name.lower().endswith(".evtx") else 0

    def _open(self, source: SourceFile, threads: int) -> Any:
        if source.real_path is not None:
            return pyevtx.PyEvtxParser(source.real_path, number_of_threads=threads)
        with source.open() as fh:
            data = fh.read()
        return pyevtx.PyEvtxParser(io.BytesIO(data), number_of_threads=threads)

    def parse(self, source: SourceFile, ctx: ParseContext) -> Iterator[Event]:
        try:
            parser = self._open(source, self.threads or ctx.settings.evtx_threads)
        except (RuntimeError, OSError, ValueError) as exc:
            ctx.warn(0, "evtx-bad-file", f"not a readable EVTX file: {exc}")
            return
        records = parser.records_json()
        loads = orjson.loads
        path, member = source.path, source.member
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except RuntimeError as exc:
                text = str(exc)
                found = _RECORD_NO.search(text) or _CHUNK_NO.search(text)
                kind = "evtx-broken-record" if "record" in text[:40] else "evtx-broken-chunk"
                ctx.warn(int(found.group(1)) if found else None, kind, text.split("\n", 1)[0])
                continue
            record_id = record.get("event_record_id")
            try:
                original, systime, message = flatten_record(loads(record["data"]))
                timestamp = parse_systime(systime, record.get("timestamp"))
            except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
                ctx.warn(record_id, "evtx-bad-record", str(exc), record.get("data"))
                continue
            fields, logsource = normalize(original)
            yield Event(
                timestamp=timestamp,
                data_type="windows:evtx:record",
                fields=fields,
                original=original,
                logsource=logsource,
                origin=Origin(path, record_id, member),
                message=message,
            )
