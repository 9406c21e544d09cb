"""The normalized event: when, who, which device, what and how (R10).

Normalized fields use Elastic Common Schema names, stored flat with dotted keys
(``"user.name"``) so that lookups in the hot loop are one dict access. The record's own
fields are kept unchanged in ``original`` (flattened EVTX ``EventData`` names such as
``TargetUserName``), so SigmaHQ rules can run as written. ``to_dict`` gives the nested
shape Elastic writes, for JSON output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The JSON key under which an event's original fields are written (documented in
#: docs/event-model.md).
ORIGINAL_KEY = "original"
#: The JSON key for Kizuki's own metadata (data type, logsource, origin).
KIZUKI_KEY = "kizuki"


@dataclass(frozen=True, slots=True)
class LogSource:
    """The Sigma logsource of an event: product / service / category."""

    product: str | None = None
    service: str | None = None
    category: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled as a plain tuple: several times faster than the slots protocol, and
        # matched events travel from worker processes by pickle (kizuki.detect.parallel).
        return LogSource, (self.product, self.service, self.category)

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.product:
            out["product"] = self.product
        if self.service:
            out["service"] = self.service
        if self.category:
            out["category"] = self.category
        return out


@dataclass(slots=True)
class Origin:
    """Where an event came from: a file and the record's offset, or a receiver and peer.

    ``offset`` is the byte offset of the line for text formats and the record number
    (EventRecordID) for EVTX; ``member`` names the file inside an archive.
    """

    path: str
    offset: int | None = None
    member: str | None = None
    receiver: str | None = None
    peer: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return Origin, (self.path, self.offset, self.member, self.receiver, self.peer)

    @property
    def display(self) -> str:
        where = f"{self.path}!{self.member}" if self.member else self.path
        if self.receiver:
            where = f"{self.receiver}<-{self.peer or '?'}"
        return f"{where}@{self.offset}" if self.offset is not None else where

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.offset is not None:
            out["offset"] = self.offset
        if self.member:
            out["member"] = self.member
        if self.receiver:
            out["receiver"] = self.receiver
        if self.peer:
            out["peer"] = self.peer
        return out


def utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime; a naive value is a programming error."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: parsers must attach the source's time zone")
    return ts.astimezone(UTC)


@dataclass(slots=True)
class Event:
    """One normalized event.

    - ``timestamp``: when it happened, timezone-aware UTC.
    - ``data_type``: a namespaced type such as ``windows:evtx:record`` or
      ``firewall:iptables:line``; says which parser made it.
    - ``fields``: ECS-named normalized fields (flat, dotted keys).
    - ``original``: the record's own fields, flattened, unchanged.
    - ``logsource``: the Sigma logsource the event belongs to.
    - ``origin``: file and offset, or receiver and peer.
    - ``message``: a one-line human description, when the format has one.
    """

    timestamp: datetime
    data_type: str
    fields: dict[str, Any]
    original: dict[str, Any]
    logsource: LogSource
    origin: Origin
    message: str | None = None
    tags: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return Event, (self.timestamp, self.data_type, self.fields, self.original,
                       self.logsource, self.origin, self.message, self.tags)

    def get(self, name: str, default: Any = None) -> Any:
        """Look a field up by ECS name first, then by its original name."""
        value = self.fields.get(name)
        if value is None:
            value = self.original.get(name, default)
        return value

    # Convenience accessors for the five questions of R10.
    @property
    def host(self) -> str | None:
        v = self.fields.get("host.name")
        return str(v) if v is not None else None

    @property
    def user(self) -> str | None:
        v = self.fields.get("user.name")
        return str(v) if v is not None else None

    @property
    def action(self) -> str | None:
        v = self.fields.get("event.action")
        return str(v) if v is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The nested, Elastic-style JSON shape of this event."""
        out: dict[str, Any] = {"@timestamp": format_ts(self.timestamp)}
        for key, value in self.fields.items():
            if value is None:
                continue
            set_dotted(out, key, value)
        if self.message is not None:
            out["message"] = self.message
        if self.tags:
            out["tags"] = list(self.tags)
        # Parsers may add their own ``kizuki.*`` fields (e.g. the firewall decision):
        # merge, never replace.
        meta = out.setdefault(KIZUKI_KEY, {})
        meta["data_type"] = self.data_type
        meta["logsource"] = self.logsource.to_dict()
        meta["origin"] = self.origin.to_dict()
        out[ORIGINAL_KEY] = self.original
        return out


    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Event:
        """The event of a :meth:`to_dict` document (as stored in the vault)."""
        meta = doc.get(KIZUKI_KEY) or {}
        fields: dict[str, Any] = {}
        for key, value in doc.items():
            if key in ("@timestamp", "message", "tags", ORIGINAL_KEY):
                continue
            if key == KIZUKI_KEY:
                # Parser-added kizuki.* fields (the firewall decision) are fields too.
                extra = {k: v for k, v in value.items()
                         if k not in ("data_type", "logsource", "origin")}
                flatten(extra, KIZUKI_KEY, fields)
            elif isinstance(value, dict):
                flatten(value, key, fields)
            else:
                fields[key] = value
        ls = meta.get("logsource") or {}
        origin = meta.get("origin") or {}
        ts = datetime.fromisoformat(str(doc["@timestamp"]))
        return cls(
            timestamp=ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC),
            data_type=str(meta.get("data_type", "unknown")),
            fields=fields,
            original=dict(doc.get(ORIGINAL_KEY) or {}),
            logsource=LogSource(ls.get("product"), ls.get("service"), ls.get("category")),
            origin=Origin(str(origin.get("path", "")), origin.get("offset"),
                          origin.get("member"), origin.get("receiver"), origin.get("peer")),
            message=doc.get("message"),
            tags=tuple(doc.get("tags") or ()),
        )


def format_ts(ts: datetime) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``, as Elastic writes ``@timestamp``."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    # isoformat is several times faster than strftime and pads the year to 4 digits.
    return ts.isoformat(timespec="microseconds")[:-6] + "Z"


def set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict; a scalar already at a prefix is kept apart."""
    parts = key.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if child is not None:
                # A scalar sits where an object is needed (e.g. "process" and
                # "process.pid"); keep both by writing the leaf with its full key.
                node[key] = value
                return
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def flatten(obj: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Flatten nested objects into dotted keys (lists are kept as values)."""
    if out is None:
        out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                flatten(v, key, out)
            else:
                out[key] = v
    elif prefix:
        out[prefix] = obj
    return out
