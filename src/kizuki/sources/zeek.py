"""Zeek network logs, TSV and JSON, as normalized events (R1).

Zeek writes one log per protocol (conn, dns, http, ssl, files, kerberos, smb_*, notice,
x509, dce_rpc, weird, ...) in one of two encodings:

- **TSV**, Zeek's default: a header of ``#separator``, ``#set_separator``,
  ``#empty_field``, ``#unset_field``, ``#path``, ``#open``, ``#fields`` and ``#types``
  lines, then one tab-separated record per line, and ``#close`` at the end. The header
  is state per file (a file may hold several header blocks, e.g. concatenated logs).
  ``-`` is an unset field (left out of ``original``), ``(empty)`` an empty string or
  an empty set; set and vector fields are split on the set separator into lists, and
  values are typed from ``#types`` (time/interval/double → float, count/int/port →
  int, bool ``T``/``F`` → bool). ``\\xHH`` escapes are decoded as Zeek's own reader does.
- **JSON lines** (``LogAscii::use_json=T``): ``{"ts": ..., "uid": ..., "id.orig_h": ...}``,
  ``ts`` as epoch seconds or ISO 8601 text.

Also read: the variant of the OTRF Security-Datasets (apt29, LSASS campaigns) whose
shipper renamed Zeek's dotted record fields with underscores (``id_orig_h``,
``certificate_serial``, ``times_modified``) and added ``@stream`` (the log type),
``@system`` (the sensor) and ``@proc``. Those keys are renamed back to Zeek's dotted
names (``id.orig_h``) in ``original``, so SigmaHQ's zeek rules (``id.orig_h``,
``certificate.serial``) run as written on every variant; ``@stream`` and friends are
kept unchanged.

The log type — the Sigma ``service`` of product ``zeek`` — comes from ``#path`` (TSV),
``_path`` or ``@stream`` (JSON, per record), or the file name (``conn.log``,
``NASHUA_conn.log``, ``conn.2024-03-04-00-00-00.log.gz``); a record whose type none
of these tell gets service ``unknown``. ECS fields come from ``mappings/zeek.yaml``;
every Zeek field is kept in ``original``. Zeek dns records also carry Sigma's
``category: dns`` (with its ``record_type`` / ``answer`` names added to ``original``),
http records the proxy-style ``c-uri`` / ``c-useragent`` one SigmaHQ zeek rule uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kizuki.errors import RecordError
from kizuki.model import Event, Origin
from kizuki.model.event import flatten
from kizuki.sources._ecsmap import FieldMaps, parse_iso
from kizuki.sources.base import (
    LineParser,
    ParseContext,
    SourceFile,
    first_json_object,
    json_object,
)
from kizuki.sources.registry import register

MAPS = FieldMaps("zeek.yaml", product="zeek", data_prefix="zeek")

#: Log types recognised in file names besides those the mapping file names.
_EXTRA_LOG_TYPES = (
    "analyzer", "capture_loss", "conn_long", "dhcp", "dnp3", "ftp", "intel", "irc",
    "known_certs", "known_hosts", "known_services", "ldap", "ldap_search", "loaded_scripts",
    "modbus", "mysql", "ntp", "ocsp", "packet_filter", "quic", "radius", "rdp", "reporter",
    "signatures", "sip", "smb_cmd", "smtp", "snmp", "socks", "software", "ssh", "stats",
    "syslog", "traceroute", "tunnel", "websocket",
)
#: Longest first, so that ``NASHUA_smb_files`` is smb_files and not files.
_LOG_TYPES = tuple(sorted(MAPS.known_types | set(_EXTRA_LOG_TYPES), key=len, reverse=True))
_NAME_SUFFIXES = (".gz", ".log", ".json", ".jsonl", ".ndjson", ".txt")

#: Zeek record-valued fields that the underscore variant flattened with ``_``.
_UNDERSCORE_RECORDS = (
    ("id_orig_", "id.orig_"),
    ("id_resp_", "id.resp_"),
    ("certificate_", "certificate."),
    ("san_", "san."),
    ("basic_constraints_", "basic_constraints."),
    ("times_", "times."),
    ("remote_location_", "remote_location."),
)
_ZEEK_KEYS = ("_path", "@stream", "uid", "fuid", "id.orig_h", "id_orig_h")
_FOREIGN_KEYS = ("event_type", "EventID", "Channel", "EventData")

_HEX_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")

# Column converters of a TSV log, from #types; None means a string (maybe escaped).
_Conv = Callable[[str], Any] | None
_BOOLS = {"T": True, "F": False}
_CONV_OF_TYPE: dict[str, _Conv] = {
    "time": float, "interval": float, "double": float,
    "count": int, "int": int, "port": int, "bool": _BOOLS.__getitem__,
}

def log_type_from_name(name: str) -> str | None:
    """The Zeek log type a file name implies (``NASHUA_conn.log`` → ``conn``), if any."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    changed = True
    while changed:
        changed = False
        for suffix in _NAME_SUFFIXES:
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                changed = True
    # Rotated logs: conn.2024-03-04-00-00-00, conn.00:00:00-01:00:00.
    stem = base.split(".", 1)[0]
    for log_type in _LOG_TYPES:
        if stem == log_type or stem.endswith(("_" + log_type, "-" + log_type)):
            return log_type
    return None


def _unescape(text: str) -> str:
    """Decode Zeek's ``\\xHH`` escapes (separators, non-printable and non-UTF-8 bytes)."""
    raw = text.encode("utf-8", "surrogateescape")
    decoded = _HEX_ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), raw)
    return decoded.decode("utf-8", "backslashreplace")


def _epoch(value: Any) -> datetime:
    if isinstance(value, bool):
        raise RecordError(f"bad ts {value!r}", kind="bad-time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            try:
                return parse_iso(value)
            except ValueError:
                pass
    raise RecordError(f"bad ts {value!r}", kind="bad-time")


def _smb_file_path(original: dict[str, Any], fields: dict[str, Any]) -> None:
    """smb_files: the full path is the share (``\\\\host\\share``) joined with the name."""
    share, name = original.get("path"), original.get("name")
    if isinstance(share, str) and isinstance(name, str) and name:
        fields["file.path"] = share.rstrip("\\") + "\\" + name.lstrip("\\")
    elif isinstance(name, str) and name:
        fields["file.path"] = name


def _dns_flags(original: dict[str, Any], fields: dict[str, Any]) -> None:
    """dns: ECS ``dns.header_flags`` from Zeek's AA / TC / RD / RA booleans."""
    flags = [flag for flag in ("AA", "TC", "RD", "RA") if original.get(flag) is True]
    if flags:
        fields["dns.header_flags"] = flags


_HOOKS = {"smb_files": _smb_file_path, "dns": _dns_flags}


def build_event(
    original: dict[str, Any], log_type: str, source: SourceFile, offset: int
) -> Event:
    """The normalized event of one Zeek record whose fields are already Zeek-named."""
    ts = original.get("ts")
    if ts is None:
        raise RecordError("record has no ts field", kind="bad-time")
    timestamp = _epoch(ts)
    tmap = MAPS.get(log_type)
    fields = tmap.apply(original)
    hook = _HOOKS.get(log_type)
    if hook is not None:
        hook(original, fields)
    message = original.get(tmap.message) if tmap.message else None
    return Event(
        timestamp=timestamp,
        data_type=tmap.data_type,
        fields=fields,
        original=original,
        logsource=tmap.logsource,
        origin=Origin(source.path, offset, source.member),
        message=str(message) if message is not None else None,
    )


# ---------------------------------------------------------------------------- TSV


@dataclass(slots=True)
class _TsvState:
    source: SourceFile
    name_type: str | None
    separator: str = "\t"
    set_separator: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str | None = None
    names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    # (name, converter, is_container) per column, built when #fields / #types arrive.
    columns: list[tuple[str, _Conv, bool]] | None = None


def _columns(names: list[str], types: list[str]) -> list[tuple[str, _Conv, bool]]:
    out: list[tuple[str, _Conv, bool]] = []
    for i, name in enumerate(names):
        zeek_type = types[i] if i < len(types) else "string"
        container = False
        if "[" in zeek_type and zeek_type.endswith("]"):
            container = True
            zeek_type = zeek_type[zeek_type.index("[") + 1 : -1]
        out.append((name, _CONV_OF_TYPE.get(zeek_type), container))
    return out


def _scalar(raw: str, conv: _Conv) -> Any:
    if conv is None:
        return _unescape(raw) if "\\x" in raw else raw
    return conv(raw)


@register
class ZeekTsvParser(LineParser[_TsvState]):
    """Zeek logs in Zeek's own TSV format (``#separator \\x09`` header), R1."""

    NAME = "zeek-tsv"
    DESCRIPTION = "Zeek logs, TSV with #fields/#types header (conn, dns, http, ssl, ...)"

    def sniff(self, head: bytes, name: str) -> int:
        return 100 if head.lstrip(b"\xef\xbb\xbf").startswith(b"#separator ") else 0

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _TsvState:
        return _TsvState(source, log_type_from_name(source.name))

    def parse_line(
        self, line: bytes, offset: int, state: _TsvState, ctx: ParseContext
    ) -> Event | None:
        text = line.decode("utf-8", "replace")
        if text.startswith(("#", "\ufeff#")):
            self._header(text.lstrip("\ufeff"), state)
            return None
        columns = state.columns
        if columns is None:
            raise RecordError("record before the #fields header", kind="bad-header")
        values = text.split(state.separator)
        if len(values) != len(columns):
            raise RecordError(
                f"{len(values)} values for {len(columns)} fields", kind="bad-columns"
            )
        unset, empty, set_sep = state.unset, state.empty, state.set_separator
        original: dict[str, Any] = {}
        for (name, conv, container), raw in zip(columns, values, strict=True):
            if raw == unset:
                continue
            try:
                if container:
                    original[name] = [] if raw == empty else [
                        None if item == unset else _scalar(item, conv)
                        for item in raw.split(set_sep)
                    ]
                elif raw == empty:
                    if conv is None:
                        original[name] = ""
                elif conv is None:
                    original[name] = _unescape(raw) if "\\x" in raw else raw
                else:
                    original[name] = conv(raw)
            except (ValueError, KeyError):
                raise RecordError(
                    f"field {name}: bad value {raw!r}", kind="bad-value"
                ) from None
        log_type = state.path or state.name_type or "unknown"
        return build_event(original, log_type, state.source, offset)

    def _header(self, text: str, state: _TsvState) -> None:
        if text.startswith("#separator"):
            state.separator = _unescape(text[len("#separator"):].strip(" ")) or "\t"
            return
        key, _, value = text.partition(state.separator)
        if key == "#set_separator":
            state.set_separator = _unescape(value)
        elif key == "#empty_field":
            state.empty = value
        elif key == "#unset_field":
            state.unset = value
        elif key == "#path":
            state.path = value or None
        elif key == "#fields":
            state.names = value.split(state.separator)
            state.types = []
            state.columns = _columns(state.names, state.types)
        elif key == "#types":
            state.types = value.split(state.separator)
            state.columns = _columns(state.names, state.types)
        # #open, #close and unknown comment lines carry nothing a record needs.


# --------------------------------------------------------------------------- JSON


@dataclass(slots=True)
class _JsonState:
    source: SourceFile
    name_type: str | None
    # Key → Zeek name, so that each distinct key is examined once per file.
    keys: dict[str, str] = field(default_factory=dict)


def _zeek_key(key: str) -> str:
    if "." not in key:
        for prefix, dotted in _UNDERSCORE_RECORDS:
            if key.startswith(prefix):
                return dotted + key[len(prefix):]
    return key


@register
class ZeekJsonParser(LineParser[_JsonState]):
    """Zeek logs as JSON lines, including the ``id_orig_h`` / ``@stream`` variant (R1)."""

    NAME = "zeek-json"
    DESCRIPTION = "Zeek logs, JSON lines (LogAscii::use_json), also the @stream variant"

    def sniff(self, head: bytes, name: str) -> int:
        obj = first_json_object(head)
        if obj is None or "ts" not in obj:
            return 0
        # Suricata EVE, Windows JSON exports and ECS documents belong to other parsers.
        if any(k in obj for k in _FOREIGN_KEYS) or isinstance(obj.get("event"), dict):
            return 0
        if any(k in obj for k in _ZEEK_KEYS):
            return 90
        return 60 if log_type_from_name(name) else 0

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _JsonState:
        return _JsonState(source, log_type_from_name(source.name))

    def parse_line(
        self, line: bytes, offset: int, state: _JsonState, ctx: ParseContext
    ) -> Event | None:
        obj = json_object(line)
        if any(isinstance(v, dict) for v in obj.values()):
            obj = flatten(obj)
        keys = state.keys
        original: dict[str, Any] = {}
        for key, value in obj.items():
            name = keys.get(key)
            if name is None:
                name = keys[key] = _zeek_key(key)
            original[name] = value
        log_type = original.get("_path") or original.get("@stream") or state.name_type
        return build_event(original, str(log_type or "unknown"), state.source, offset)
