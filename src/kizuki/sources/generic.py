"""Fallbacks: any JSON-lines log, and packet captures named for what they are.

The generic JSON reader keeps every field (flattened) so that searches and Sigma rules
on original names work on logs no specific parser knows: AWS CloudTrail, Azure AD and
Microsoft 365 exports, Log Analytics tables. It claims a file only when no specific
parser does (lowest score).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kizuki.model import Event, LogSource, Origin
from kizuki.model.event import flatten
from kizuki.sources.base import (
    LineParser,
    ParseContext,
    Parser,
    SourceFile,
    first_json_object,
    json_object,
)
from kizuki.sources.registry import register
from kizuki.sources.winjson import parse_time

_TIME_KEYS = ("@timestamp", "timestamp", "TimeGenerated", "eventTime", "EventTime",
              "time", "Timestamp", "ts", "date", "datetime", "CreationTime")

# (marker keys that must all be present) -> logsource, in priority order.
_LOGSOURCES: tuple[tuple[tuple[str, ...], LogSource], ...] = (
    (("eventSource", "eventName", "awsRegion"), LogSource("aws", "cloudtrail")),
    (("OperationName", "Category", "InitiatedBy"), LogSource("azure", "auditlogs")),
    (("ResultType", "UserPrincipalName", "AppDisplayName"), LogSource("azure", "signinlogs")),
    (("SyslogMessage", "Facility"), LogSource("linux", "syslog")),
    (("Workload", "Operation", "UserId"), LogSource("m365", "audit")),
    (("ActionType", "DeviceName"), LogSource("m365", "defender")),
)


def _logsource(obj: dict[str, Any]) -> LogSource:
    for markers, logsource in _LOGSOURCES:
        if all(k in obj for k in markers):
            return logsource
    return LogSource()


def _when(obj: dict[str, Any]) -> Any:
    for key in _TIME_KEYS:
        value = obj.get(key)
        if value:
            return value
    return None


@register
class GenericJsonParser(LineParser[None]):
    """Any JSON object per line, fields kept as they are (flattened)."""

    NAME = "json"
    DESCRIPTION = "Any JSON-lines log (CloudTrail, Azure, M365, Log Analytics exports…)"

    def sniff(self, head: bytes, name: str) -> int:
        obj = first_json_object(head)
        return 5 if obj is not None and _when(obj) is not None else 0

    def parse_line(self, line: bytes, offset: int, state: None, ctx: ParseContext
                   ) -> Event | None:
        obj = json_object(line)
        when = _when(obj)
        original = flatten(obj)
        logsource = _logsource(obj)
        fields: dict[str, Any] = {}
        host = obj.get("Computer") or obj.get("HostName") or obj.get("DeviceName")
        if host:
            fields["host.name"] = host
        user = obj.get("userIdentity", {}).get("userName") if isinstance(
            obj.get("userIdentity"), dict) else obj.get("UserId") or obj.get("UserPrincipalName")
        if user:
            fields["user.name"] = user
        for key, ecs in (("sourceIPAddress", "source.ip"), ("SourceIp", "source.ip"),
                         ("DestinationIp", "destination.ip"), ("eventName", "event.action"),
                         ("OperationName", "event.action"), ("Operation", "event.action")):
            if key in obj and obj[key] is not None and ecs not in fields:
                fields[ecs] = obj[key]
        if logsource.product:
            fields["event.module"] = logsource.product
        source = ctx.source
        message = obj.get("message") or obj.get("SyslogMessage")
        return Event(
            timestamp=parse_time(when, "time field"),
            data_type="json:generic:record",
            fields=fields,
            original=original,
            logsource=logsource,
            origin=Origin(source.path, offset, source.member),
            message=message if isinstance(message, str) else None,
        )


_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


@register
class PacketCaptureParser(Parser):
    """Recognises pcap/pcapng so that they are reported as such, not as unknown files."""

    NAME = "pcap"
    SNIFF_ORDER = 0
    DESCRIPTION = "Packet captures (recognised, not decoded: run Zeek or Suricata on them)"

    def sniff(self, head: bytes, name: str) -> int:
        return 100 if head[:4] in _PCAP_MAGICS else 0

    def parse(self, source: SourceFile, ctx: ParseContext) -> Iterator[Event]:
        ctx.warn(
            None, "unsupported-format",
            "packet capture: Kizuki reads the logs of Zeek or Suricata, not raw packets; "
            "run one of them on this capture and ingest its logs",
        )
        return iter(())
