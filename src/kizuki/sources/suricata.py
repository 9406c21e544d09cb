"""Suricata EVE JSON (``eve.json``) as normalized events: IDS alerts and flows (R1).

One JSON object per line, ``event_type`` saying what it is: ``alert``, ``flow``,
``netflow``, ``dns``, ``http``, ``tls``, ``fileinfo``, ``anomaly``, ``drop``, ``smb``,
``krb5``, ``ssh`` and the other app-layer types. ``timestamp`` carries its offset
(``2024-03-04T01:02:03.123456+0900``) and becomes exact UTC.

- ``original`` is the record flattened with dots (``alert.signature``,
  ``flow.bytes_toserver``, ``http.http_user_agent``); lists (DNS answers, alert
  metadata) stay lists.
- ECS fields come from ``mappings/suricata.yaml``. An alert also gets the ECS fields
  of the app-layer object it carries (its ``http``, ``tls``, ``dns``, ``fileinfo``),
  ``event.kind: alert`` and ``event.type`` ``allowed`` or ``denied`` from
  ``alert.action`` (``allowed`` / ``blocked``); its message is the signature.
- DNS: the three EVE DNS layouts (v1 one record per answer, v2 ``answers`` list,
  v3 ``queries`` / ``answers`` lists with ``request`` / ``response`` types) give the
  same ``dns.question.*``, ``dns.type`` (query / answer) and ``dns.answers.data``.
- Sigma logsource: ``product: suricata``, ``service: <event_type>``. SigmaHQ has no
  suricata rules, so alerts also get ``category: ids`` and DNS records ``category:
  dns`` (with the ``query`` / ``record_type`` / ``answer`` names its rules use added
  to ``original``), letting generic rules of those categories see them.
- ``stats`` records (engine counters every few seconds, nothing about traffic) are
  skipped, not stored and not warned about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kizuki.errors import RecordError
from kizuki.model import Event, Origin
from kizuki.sources._ecsmap import FieldMaps, parse_iso
from kizuki.sources.base import (
    LineParser,
    ParseContext,
    SourceFile,
    first_json_object,
    json_object,
)
from kizuki.sources.registry import register

MAPS = FieldMaps("suricata.yaml", product="suricata", data_prefix="suricata:eve")

#: Event types dropped on purpose (see the module docstring).
SKIPPED_TYPES = frozenset({"stats"})
#: App-layer objects an alert may carry, whose ECS fields the alert also gets.
_ALERT_APP_LAYERS = ("http", "tls", "dns", "fileinfo", "smb", "krb5", "ssh")
_ALERT_TYPE = {"allowed": ["allowed"], "blocked": ["denied"]}
_DNS_TYPE = {"request": "query", "response": "answer", "query": "query", "answer": "answer"}
_DNS_FLAGS = (("dns.aa", "AA"), ("dns.tc", "TC"), ("dns.rd", "RD"), ("dns.ra", "RA"))
_SWAPPED = (("source.bytes", "destination.bytes"), ("source.packets", "destination.packets"))
_FOREIGN_KEYS = ("EventID", "Channel", "EventData", "@stream", "_path")


def _dns(original: dict[str, Any], fields: dict[str, Any]) -> None:
    """Question, type and answers from any of the EVE DNS layouts (v1, v2, v3)."""
    name = original.get("dns.rrname")
    qtype = original.get("dns.rrtype")
    queries = original.get("dns.queries")
    if isinstance(queries, list) and queries and isinstance(queries[0], dict):
        name = queries[0].get("rrname", name)
        qtype = queries[0].get("rrtype", qtype)
    kind = _DNS_TYPE.get(str(original.get("dns.type")))
    if kind:
        fields["dns.type"] = kind
    if name:
        fields["dns.question.name"] = name
        original.setdefault("query", name)
    if qtype:
        fields["dns.question.type"] = qtype
        original.setdefault("record_type", qtype)
    flags = [flag for key, flag in _DNS_FLAGS if original.get(key) is True]
    if flags:
        fields["dns.header_flags"] = flags
    answers = original.get("dns.answers")
    data: list[Any] = []
    if isinstance(answers, list):
        data = [a["rdata"] for a in answers if isinstance(a, dict) and "rdata" in a]
    elif original.get("dns.rdata") is not None:
        data = [original["dns.rdata"]]
    if data:
        fields["dns.answers.data"] = data
        original.setdefault("answer", data)


def _prefixes(original: dict[str, Any]) -> set[str]:
    """The top-level object names of a flattened record (``http.`` for ``http.url``)."""
    return {key[: key.index(".") + 1] for key in original if "." in key}


def _flatten(obj: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """EVE's nested objects as dotted keys; lists (answers, metadata) stay lists."""
    if out is None:
        out = {}
    for key, value in obj.items():
        if type(value) is dict:
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[prefix + key if prefix else key] = value
    return out


def _alert(original: dict[str, Any], fields: dict[str, Any]) -> None:
    fields["event.type"] = list(_ALERT_TYPE.get(str(original.get("alert.action")), ["info"]))
    flow_src = original.get("flow.src_ip")
    if flow_src is not None and flow_src != original.get("src_ip"):
        # The packet that alerted went server → client, so the flow's "to server"
        # counters belong to the alert's destination.
        for one, other in _SWAPPED:
            a, b = fields.pop(one, None), fields.pop(other, None)
            if b is not None:
                fields[one] = b
            if a is not None:
                fields[other] = a
    present = _prefixes(original)
    for layer in _ALERT_APP_LAYERS:
        if layer + "." in present:
            MAPS.get(layer).fill(original, fields)
            if layer == "dns":
                _dns(original, fields)


_HOOKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "dns": _dns,
    "alert": _alert,
}


@dataclass(slots=True)
class _State:
    source: SourceFile


@register
class SuricataEveParser(LineParser[_State]):
    """Suricata's EVE JSON log: alerts, flows and app-layer records (R1)."""

    NAME = "suricata-eve"
    DESCRIPTION = "Suricata EVE JSON lines (alert, flow, dns, http, tls, fileinfo, ...)"

    def sniff(self, head: bytes, name: str) -> int:
        obj = first_json_object(head)
        if obj is None:
            # A first line longer than the head: fall back on EVE's leading keys.
            start = head[:512]
            if start.startswith(b'{"timestamp":') and b'"event_type":' in head:
                return 50
            return 0
        if "event_type" not in obj or "timestamp" not in obj:
            return 0
        # Windows JSON exports, ECS documents and Zeek belong to other parsers.
        if any(k in obj for k in _FOREIGN_KEYS) or isinstance(obj.get("event"), dict):
            return 0
        if "flow_id" in obj or "src_ip" in obj or obj.get("event_type") == "stats":
            return 95
        return 80

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _State:
        return _State(source)

    def parse_line(
        self, line: bytes, offset: int, state: _State, ctx: ParseContext
    ) -> Event | None:
        obj = json_object(line)
        event_type = obj.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise RecordError("record has no event_type", kind="bad-record")
        if event_type in SKIPPED_TYPES:
            return None
        stamp = obj.get("timestamp")
        if not isinstance(stamp, str):
            raise RecordError("record has no timestamp", kind="bad-time")
        try:
            timestamp = parse_iso(stamp)
        except ValueError:
            raise RecordError(f"bad timestamp {stamp!r}", kind="bad-time") from None
        original = _flatten(obj)
        tmap = MAPS.get(event_type)
        fields = tmap.apply(original)
        hook = _HOOKS.get(event_type)
        if hook is not None:
            hook(original, fields)
        message = original.get(tmap.message) if tmap.message else None
        source = state.source
        return Event(
            timestamp=timestamp,
            data_type=tmap.data_type,
            fields=fields,
            original=original,
            logsource=tmap.logsource,
            origin=Origin(source.path, offset, source.member),
            message=str(message) if message is not None else None,
        )
