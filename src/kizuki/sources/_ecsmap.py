"""Field maps as data for the network parsers: original field → ECS field (style §4).

Zeek and Suricata records are flat dictionaries of their own field names; which of
those become which ECS field, with which small conversion, is declared in
``mappings/zeek.yaml`` and ``mappings/suricata.yaml``. This module loads such a file
once, compiles it into tuples per record type, and applies them in the hot loop with
one ``dict.get`` per mapped field.

YAML shape (both files)::

    common:                 # tried for every record type, after the type's own fields
      fields: {original: target | [target, ...] | {to: target, convert: name}}
      constants: {ecs.field: value}
    types:
      <type>:
        category: dns       # optional Sigma logsource category
        fields: ...
        constants: ...
        aliases: {original: sigma_name}   # copies kept in ``original`` for Sigma rules
        message: original   # field whose value becomes the event message
    default: {...}          # used for types not listed

For one ECS field the first original field that has a value wins; the type's own
fields are tried before the common ones. A converter that fails on an odd value
drops that ECS copy only; the record and its original field stay.

Also here, shared by the JSON-lines parsers: :func:`first_json_object` for sniffing
and :func:`parse_iso` for times with an offset.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, NamedTuple

from kizuki import yamlio
from kizuki.errors import ConfigError
from kizuki.model.event import LogSource, format_ts

#: Turns an original value into the ECS value; ``None`` means "no ECS value".
Converter = Callable[[Any], Any]

#: Values that mean "no value" in the formats read here.
_BLANK = ("", "-")
_TLS_VERSION = re.compile(r"^(D?TLS|SSL)\s*v?\s*(\d)(?:\.?(\d))?", re.IGNORECASE)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _text(value: Any) -> Any:
    return str(value)


def _seconds_ns(value: Any) -> Any:
    """Seconds (float) to nanoseconds, ECS ``event.duration``'s unit."""
    return round(float(value) * 1_000_000_000)


def _epoch_iso(value: Any) -> Any:
    """A Zeek epoch time to ECS ISO 8601 UTC text."""
    return format_ts(datetime.fromtimestamp(float(value), UTC))


def _iso_utc(value: Any) -> Any:
    """An ISO time with offset (``+0900``) to ECS ISO 8601 UTC text.

    A time without a zone is UTC here: EVE writes certificate validity that way.
    """
    if not isinstance(value, str):
        return None
    ts = datetime.fromisoformat(value)
    return format_ts(ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC))


def _fingerprint(value: Any) -> Any:
    """``6a:0f:...`` → ``6A0F...``, the ECS hash spelling."""
    return value.replace(":", "").upper() if isinstance(value, str) else None


def tls_version(value: Any) -> tuple[str, str] | None:
    """``TLSv12`` (Zeek), ``TLS 1.2`` (Suricata), ``SSLv3`` → ``("1.2", "tls")``."""
    if not isinstance(value, str):
        return None
    m = _TLS_VERSION.match(value)
    if m is None:
        return None
    proto, major, minor = m.group(1).lower(), m.group(2), m.group(3) or "0"
    return f"{major}.{minor}", "ssl" if proto == "ssl" else "tls"


def _tls_number(value: Any) -> Any:
    parsed = tls_version(value)
    return parsed[0] if parsed else None


def _tls_protocol(value: Any) -> Any:
    parsed = tls_version(value)
    return parsed[1] if parsed else None


def _outcome(value: Any) -> Any:
    """A success flag (Zeek ``success``, ``established``) to ECS ``event.outcome``."""
    if isinstance(value, bool):
        return "success" if value else "failure"
    return None


def _url_path(value: Any) -> Any:
    return value.split("?", 1)[0] if isinstance(value, str) else None


def _url_query(value: Any) -> Any:
    if isinstance(value, str) and "?" in value:
        return value.split("?", 1)[1] or None
    return None


def _http_version(value: Any) -> Any:
    """``HTTP/1.1`` → ``1.1`` (ECS ``http.version``); a bare ``1.1`` is kept."""
    if not isinstance(value, str):
        return None
    return value[5:] if value.upper().startswith("HTTP/") else value


def _principal_user(value: Any) -> Any:
    """``alice/CORP.LOCAL`` (a Kerberos principal) → ``alice``."""
    if not isinstance(value, str):
        return None
    return value.split("/", 1)[0] or None


def _principal_realm(value: Any) -> Any:
    if isinstance(value, str) and "/" in value:
        return value.rsplit("/", 1)[1] or None
    return None


def _app_proto(value: Any) -> Any:
    """Suricata's ``app_proto``; ``failed`` / ``unknown`` name no protocol."""
    if not isinstance(value, str) or value in ("failed", "unknown"):
        return None
    return value.lower()


def _first(value: Any) -> Any:
    """The first element of a list (Zeek sets such as ``resp_mime_types``)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


CONVERTERS: dict[str, Converter] = {
    "lower": _lower,
    "str": _text,
    "seconds_ns": _seconds_ns,
    "epoch_iso": _epoch_iso,
    "iso_utc": _iso_utc,
    "tls_version": _tls_number,
    "tls_protocol": _tls_protocol,
    "outcome": _outcome,
    "url_path": _url_path,
    "url_query": _url_query,
    "http_version": _http_version,
    "principal_user": _principal_user,
    "principal_realm": _principal_realm,
    "first": _first,
    "app_proto": _app_proto,
    "fingerprint": _fingerprint,
}


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time with a zone (``Z``, ``+09:00``, ``+0900``) as aware UTC.

    A time without a zone is a :class:`ValueError`: these formats always carry one.
    """
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return ts.astimezone(UTC)


class FieldOp(NamedTuple):
    """One original field copied (and maybe converted) into one ECS field.

    A tuple, so that the hot loop unpacks it instead of reading attributes.
    """

    source: str
    target: str
    convert: Converter | None


@dataclass(frozen=True, slots=True)
class TypeMap:
    """The compiled normalization of one record type (a Zeek log, an EVE event type)."""

    name: str
    ops: tuple[FieldOp, ...]
    constants: tuple[tuple[str, Any], ...]
    aliases: tuple[tuple[str, str], ...]
    logsource: LogSource
    data_type: str
    message: str | None

    def apply(self, original: dict[str, Any]) -> dict[str, Any]:
        """ECS fields for ``original``; Sigma aliases are added to ``original`` itself."""
        fields: dict[str, Any] = {}
        for key, value in self.constants:
            # Lists are copied so that no two events share a mutable value.
            fields[key] = list(value) if isinstance(value, list) else value
        self.fill(original, fields)
        get = original.get
        for source, alias in self.aliases:
            value = get(source)
            if value is not None and alias not in original:
                original[alias] = value
        return fields

    def fill(self, original: dict[str, Any], fields: dict[str, Any]) -> None:
        """Add this type's own field copies to ``fields`` without overriding any.

        Used for records that carry another type's data, such as a Suricata alert
        with the ``http`` object of the transaction that raised it.
        """
        get = original.get
        for source, target, convert in self.ops:
            if target in fields:
                continue
            value = get(source)
            if value is None or value in _BLANK:
                continue
            if convert is not None:
                try:
                    value = convert(value)
                except (ValueError, TypeError, OverflowError):
                    # An odd value costs its ECS copy, never the record: the
                    # original field is still there.
                    continue
                if value is None:
                    continue
            fields[target] = value


def _ops(raw: Any, where: str) -> list[FieldOp]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ConfigError("'fields' must be a mapping", where=where)
    out: list[FieldOp] = []
    for source, spec in raw.items():
        specs = spec if isinstance(spec, list) else [spec]
        for item in specs:
            if isinstance(item, str):
                out.append(FieldOp(str(source), item, None))
            elif isinstance(item, Mapping) and isinstance(item.get("to"), str):
                name = item.get("convert")
                convert = None
                if name is not None:
                    convert = CONVERTERS.get(str(name))
                    if convert is None:
                        raise ConfigError(
                            f"unknown converter {name!r}", where=f"{where}.fields.{source}"
                        )
                out.append(FieldOp(str(source), str(item["to"]), convert))
            else:
                raise ConfigError("a target is a name or {to, convert}",
                                  where=f"{where}.fields.{source}")
    return out


class FieldMaps:
    """All type maps of one product, compiled from its YAML file."""

    def __init__(self, resource: str, product: str, data_prefix: str) -> None:
        text = files("kizuki.sources").joinpath("mappings", resource).read_text("utf-8")
        doc = yamlio.safe_load(text)
        if not isinstance(doc, Mapping):
            raise ConfigError("mapping file must be a mapping", where=resource)
        self.product = product
        self.data_prefix = data_prefix
        self._resource = resource
        common = doc.get("common") or {}
        self._common_ops = _ops(common.get("fields"), f"{resource}:common")
        self._common_constants = dict(common.get("constants") or {})
        self._types: dict[str, Mapping[str, Any]] = dict(doc.get("types") or {})
        self._default: Mapping[str, Any] = doc.get("default") or {}
        self._compiled: dict[str, TypeMap] = {}

    @property
    def known_types(self) -> frozenset[str]:
        return frozenset(self._types)

    def get(self, name: str) -> TypeMap:
        """The compiled map of record type ``name`` (compiled on first use, then cached)."""
        found = self._compiled.get(name)
        if found is None:
            found = self._compile(name)
            self._compiled[name] = found
        return found

    def _compile(self, name: str) -> TypeMap:
        spec = self._types.get(name, self._default) or {}
        where = f"{self._resource}:types.{name}"
        constants = dict(self._common_constants)
        constants.update(spec.get("constants") or {})
        constants["event.dataset"] = f"{self.product}.{name}"
        ops = tuple(_ops(spec.get("fields"), where) + self._common_ops)
        aliases = tuple((str(k), str(v)) for k, v in (spec.get("aliases") or {}).items())
        category = spec.get("category")
        return TypeMap(
            name=name,
            ops=ops,
            constants=tuple(constants.items()),
            aliases=aliases,
            logsource=LogSource(product=self.product, service=name,
                                category=str(category) if category else None),
            data_type=f"{self.data_prefix}:{name}",
            message=spec.get("message"),
        )
