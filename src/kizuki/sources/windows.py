"""Normalization of Windows events, shared by the EVTX and the JSON readers.

A Windows record arrives flattened (System fields such as ``EventID``, ``Channel``,
``Computer``, ``Provider_Name`` beside the ``EventData`` names). What it means in ECS
terms and which Sigma logsource it belongs to is declared in ``mappings/windows.yaml``
and compiled here once; the per-record work is one pass over the record's own keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kizuki import yamlio
from kizuki.model import LogSource

_IGNORED_VALUES = frozenset({"-", "", "%%1793", "NULL SID"})


@dataclass(frozen=True, slots=True, eq=False)
class EventSpec:
    """What one Channel:EventID means: its fixed ECS fields and its field map."""

    constant: tuple[tuple[str, Any], ...]
    field_map: dict[str, tuple[str, int]]
    logsource: LogSource
    #: original name -> rank, for ordering the names a record has (first present wins)
    rank: dict[str, int]


@dataclass(frozen=True, slots=True, eq=False)
class WindowsMapping:
    """The compiled ``windows.yaml``."""

    channels: dict[str, str]
    sysmon_categories: dict[int, str]
    default_fields: dict[str, tuple[str, int]]
    events: dict[tuple[str, int], dict[str, Any]]
    provider_events: dict[tuple[str, int], dict[str, Any]]

    def spec(self, channel: str, event_id: int, provider: str = "") -> EventSpec:
        return _spec(self, channel.lower(), event_id, provider.lower())


def _field_map(pairs: dict[str, str]) -> dict[str, tuple[str, int]]:
    # The rank keeps the YAML order: for one ECS field the earliest original name wins.
    return {orig: (ecs, rank) for rank, (orig, ecs) in enumerate(pairs.items())}


@cache
def mapping() -> WindowsMapping:
    """Load and compile ``mappings/windows.yaml`` (once per process)."""
    text = resources.files("kizuki.sources").joinpath("mappings/windows.yaml").read_text("utf-8")
    doc = yamlio.safe_load(text)
    events: dict[tuple[str, int], dict[str, Any]] = {}
    for key, spec in (doc.get("events") or {}).items():
        channel, _, eid = str(key).rpartition(":")
        events[(channel.lower(), int(eid))] = dict(spec)
    provider_events: dict[tuple[str, int], dict[str, Any]] = {}
    for key, spec in (doc.get("provider_events") or {}).items():
        provider, _, eid = str(key).rpartition(":")
        provider_events[(provider.lower(), int(eid))] = dict(spec)
    return WindowsMapping(
        provider_events=provider_events,
        channels={str(k).lower(): str(v) for k, v in doc["channels"].items()},
        sysmon_categories={int(k): str(v) for k, v in doc["sysmon_categories"].items()},
        default_fields=_field_map(doc["fields"]),
        events=events,
    )


_TARGET_KEYS = {
    "TargetUserName": "user.target.name",
    "TargetDomainName": "user.target.domain",
    "TargetUserSid": "user.target.id",
}


@cache
def _spec(m: WindowsMapping, channel: str, event_id: int, provider: str) -> EventSpec:
    raw = m.events.get((channel, event_id)) or m.provider_events.get((provider, event_id), {})
    service = m.channels.get(channel)
    category: str | None = raw.get("logsource_category")
    if category is None and service == "sysmon":
        category = m.sysmon_categories.get(event_id)
    constant: list[tuple[str, Any]] = [("event.code", str(event_id))]
    if "action" in raw:
        constant.append(("event.action", raw["action"]))
    if "category" in raw:
        constant.append(("event.category", list(raw["category"])))
    if "type" in raw:
        constant.append(("event.type", list(raw["type"])))
    if "outcome" in raw:
        constant.append(("event.outcome", raw["outcome"]))
    fields = dict(m.default_fields)
    if raw.get("user") == "Subject":
        # The actor is the subject; the account acted upon is the target (ECS user.target).
        for key in _TARGET_KEYS:
            fields.pop(key, None)
        if raw.get("target") == "Target":
            for rank, (key, ecs) in enumerate(_TARGET_KEYS.items()):
                fields[key] = (ecs, rank)
    return EventSpec(
        constant=tuple(constant),
        field_map=fields,
        logsource=LogSource("windows", service, category),
        rank={key: rank for key, (_ecs, rank) in fields.items()},
    )


def _clean_ip(value: str) -> str:
    return value[7:] if value.startswith("::ffff:") else value


#: Specs by the record's own (Channel, EventID, Provider_Name) values, before any
#: lowering or conversion: one dict lookup per record on the hot path.
_SPECS: dict[tuple[Any, Any, Any], EventSpec] = {}
_SPECS_MAX = 1 << 14


def normalize(original: dict[str, Any]) -> tuple[dict[str, Any], LogSource]:
    """ECS fields and Sigma logsource of one flattened Windows record."""
    channel = original.get("Channel") or ""
    raw_id = original.get("EventID")
    provider = original.get("Provider_Name")
    spec_key: tuple[Any, Any, Any] | None = (channel, raw_id, provider)
    try:
        spec = _SPECS.get(spec_key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable value (a list): looked up the long way
        spec = None
        spec_key = None
    if spec is None:
        try:
            event_id = int(raw_id or 0)
        except (TypeError, ValueError):
            event_id = 0
        spec = mapping().spec(str(channel), event_id, str(provider or ""))
        if spec_key is not None and len(_SPECS) < _SPECS_MAX:
            _SPECS[spec_key] = spec
    fields: dict[str, Any] = dict(spec.constant)
    field_map = spec.field_map
    # Only the record's keys that the map knows (a set intersection, in C), sorted so
    # that the fields come out in the same order on every run; where two of them name
    # one ECS field, the earlier in the YAML (lower rank) wins.
    taken: dict[str, int] = {}
    for key in sorted(field_map.keys() & original.keys()):
        value = original[key]
        if value is None or (type(value) is str and value in _IGNORED_VALUES):
            continue
        ecs, rank = field_map[key]
        if taken.get(ecs, rank) < rank:
            continue
        taken[ecs] = rank
        fields[ecs] = value
    user = fields.get("user.name")
    if isinstance(user, str) and "\\" in user:
        domain, _, name = user.partition("\\")
        fields["user.name"] = name
        fields.setdefault("user.domain", domain)
    for ip_key in ("source.ip", "destination.ip"):
        ip = fields.get(ip_key)
        if isinstance(ip, str):
            fields[ip_key] = _clean_ip(ip)
    executable = fields.get("process.executable")
    if isinstance(executable, str) and executable:
        fields["process.name"] = executable.replace("/", "\\").rsplit("\\", 1)[-1]
    provider = original.get("Provider_Name")
    if provider:
        fields["event.provider"] = provider
    fields["event.module"] = "windows"
    fields["winlog.channel"] = channel
    return fields, spec.logsource
