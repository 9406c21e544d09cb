"""Web server access logs as normalized events (R8): Apache / Nginx and IIS.

Two parsers:

- ``web-access``: the NCSA **combined** and **common** formats that Apache and Nginx
  write by default (``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"``),
  also with a leading ``vhost:port`` (Apache ``vhost_combined``) and with any trailing
  fields (request time, forwarded-for, ``key=value`` pairs), which are kept in
  ``original["extra"]`` without guessing their meaning. ``\\"`` and ``\\\\`` inside
  quoted fields are unescaped; a ``"-"`` or garbage request line (TLS bytes sent to a
  plain-HTTP port) is kept as ``request`` with no method or URL. The time carries its
  offset (``[10/Oct/2000:13:55:36 -0700]``) and becomes exact UTC; a time without one
  is read in the source's configured zone.
- ``iis-w3c``: IIS W3C extended logs. ``#Fields:`` gives the columns (state per file,
  re-read at every header block); times are UTC; ``+`` in the user agent is a space.

Both keep the W3C / Sigma ``webserver`` field names in ``original`` (``c-ip``,
``cs-username``, ``cs-method``, ``cs-uri-stem``, ``cs-uri-query``, ``cs-version``,
``sc-status``, ``cs-referer``, ``cs-user-agent``, ``cs-host``, plus ``cs-uri`` and
``c-uri``), so the same SigmaHQ rules run on Apache, Nginx and IIS records. Two
decisions make that work:

- ``cs-uri-query`` holds the **whole request target** (path and query): SigmaHQ's
  webserver rules put paths in it (``cs-uri-query|contains: '/cgi-bin/.%2e/'``, IIS
  tilde scans ending in ``a.aspx``). For IIS the raw query column moves to
  ``c-uri-query`` (and ECS ``url.query``).
- A ``-`` (absent) referer, user agent or user is left out, so ``cs-referer: null``
  in a rule means "no referer" as intended.

Logsource: ``category: webserver``. Combined lines cannot tell Apache from Nginx, so
``product`` is left unset for them (SigmaHQ's webserver rules set no product); IIS
logs get ``product: iis`` when the ``#Software`` header says so. The message is the
raw line, for Sigma keyword rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.sources.base import LineParser, ParseContext, SourceFile
from kizuki.sources.registry import register

# Quoted fields use the unrolled form [^"\\]*(?:\\.[^"\\]*)* : the same language as
# (?:[^"\\]|\\.)* but without one alternation per character. The groups are read in
# order with .groups() (vhost, vport, client, ident, user, time, request, status, size,
# referer, agent, rest).
_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
_ACCESS = re.compile(
    r'(?:([^\s:"]+):(\d+) )?'
    r"(\S+) (\S+) (\S+) "
    r"\[([^\]]+)\] "
    rf'"({_QUOTED})" '
    r"(\d{3}|-) (\d+|-)"
    rf'(?: "({_QUOTED})" "({_QUOTED})")?'
    r"(\s.*)?$"
)
_CLF_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(?:\s*([+-])(\d{2}):?(\d{2}))?$"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}
_ESCAPED = re.compile(r'\\(["\\])')
_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_IP = re.compile(r"[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%a-z0-9]*")
_EXTRA = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')

_WEB = LogSource(category="webserver")
_IIS = LogSource(product="iis", category="webserver")
_ZONES: dict[str, tzinfo] = {}


def _unquote(value: str) -> str:
    return _ESCAPED.sub(r"\1", value) if "\\" in value else value


def _zone(sign: str, hours: str, minutes: str) -> tzinfo:
    key = sign + hours + minutes
    zone = _ZONES.get(key)
    if zone is None:
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        zone = _ZONES[key] = timezone(-delta if sign == "-" else delta)
    return zone


def _clf_time(text: str, ctx: ParseContext) -> datetime:
    m = _CLF_TIME.match(text)
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m is None or month is None:
        raise RecordError(f"bad time [{text}]", kind="bad-time")
    frac = m.group(7)
    micro = int(frac.ljust(6, "0")) if frac else 0
    zone = _zone(m.group(8), m.group(9), m.group(10)) if m.group(8) else ctx.settings.tz
    try:
        local = datetime(int(m.group(3)), month, int(m.group(1)), int(m.group(4)),
                         int(m.group(5)), int(m.group(6)), micro, tzinfo=zone)
    except ValueError as exc:
        raise RecordError(f"bad time [{text}]: {exc}", kind="bad-time") from None
    return local.astimezone(UTC)


def _split_request(request: str) -> tuple[str, str, str | None] | None:
    """``GET /a?b HTTP/1.1`` → (method, target, protocol); ``None`` for garbage."""
    parts = request.split(" ")
    if len(parts) >= 3 and parts[-1].upper().startswith("HTTP/"):
        method, target, protocol = parts[0], " ".join(parts[1:-1]), parts[-1]
    elif len(parts) == 2:
        (method, target), protocol = parts, None
    else:
        return None
    if not _METHOD.fullmatch(method) or not target:
        return None
    return method, target, protocol


def _url_fields(fields: dict[str, Any], target: str, path: str, query: str | None) -> None:
    fields["url.original"] = target
    fields["url.path"] = path
    if query:
        fields["url.query"] = query
    leaf = path.rsplit("/", 1)[-1]
    if "." in leaf:
        extension = leaf.rsplit(".", 1)[-1]
        if extension and len(extension) <= 16:
            fields["url.extension"] = extension.lower()


def _outcome(fields: dict[str, Any], status: int) -> None:
    fields["http.response.status_code"] = status
    fields["event.outcome"] = "failure" if status >= 400 else "success"


def _base_fields() -> dict[str, Any]:
    return {"event.kind": "event", "event.category": ["web"], "event.type": ["access"]}


def _client(fields: dict[str, Any], client: str) -> None:
    fields["source.address"] = client
    fields["source.ip" if _IP.fullmatch(client) else "source.domain"] = client


def _extra(rest: str, original: dict[str, Any]) -> None:
    """Trailing fields after the combined format, kept as given (``key=value`` split)."""
    values: list[str] = []
    for m in _EXTRA.finditer(rest):
        quoted, bare = m.group(1), m.group(2)
        token = _unquote(quoted) if quoted is not None else bare
        if bare is not None and "=" in bare and not bare.startswith("="):
            key, _, value = bare.partition("=")
            original[f"extra.{key}"] = value.strip('"')
        values.append(token)
    if values:
        original["extra"] = values


@dataclass(slots=True)
class _AccessState:
    source: SourceFile
    # Many lines share one second: the last time text and its UTC value.
    last_time: str = ""
    last_ts: datetime | None = None


@register
class WebAccessParser(LineParser[_AccessState]):
    """Apache / Nginx access logs in the combined or common log format (R8)."""

    NAME = "web-access"
    DESCRIPTION = "Apache/Nginx access log, combined or common format (also vhost_combined)"

    def sniff(self, head: bytes, name: str) -> int:
        lines = [ln for ln in head.split(b"\n", 6)[:6] if ln.strip()][:5]
        if not lines:
            return 0
        hits = [
            _ACCESS.match(ln.rstrip(b"\r").decode("utf-8", "replace")) is not None
            for ln in lines
        ]
        if hits[0]:
            return 80
        return 50 if sum(hits) >= 2 else 0

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _AccessState:
        return _AccessState(source)

    def parse_line(
        self, line: bytes, offset: int, state: _AccessState, ctx: ParseContext
    ) -> Event | None:
        text = line.decode("utf-8", "replace")
        m = _ACCESS.match(text)
        if m is None:
            raise RecordError("not a combined/common access log line", kind="bad-line")
        (vhost, vport, client, ident, user, when, request, status, size, referer, agent,
         rest) = m.groups()
        if when == state.last_time and state.last_ts is not None:
            timestamp = state.last_ts
        else:
            timestamp = _clf_time(when, ctx)
            state.last_time, state.last_ts = when, timestamp
        fields = _base_fields()
        original: dict[str, Any] = {"c-ip": client, "time_local": when}
        _client(fields, client)
        if ident != "-":
            original["ident"] = ident
        if user != "-":
            original["cs-username"] = fields["user.name"] = _unquote(user.strip('"'))
        if vhost:
            original["cs-host"] = fields["url.domain"] = vhost
            original["s-port"] = fields["destination.port"] = int(vport)
        if "\\" in request:
            request = _unquote(request)
        if request != "-":
            original["request"] = request
            parts = _split_request(request)
            if parts is not None:
                method, target, protocol = parts
                path, _, query = target.partition("?")
                if path.startswith(("http://", "https://")):
                    # Absolute form, as sent to (would-be) proxies: split off the host.
                    scheme, _, rest = path.partition("://")
                    host, slash, tail = rest.partition("/")
                    fields["url.scheme"], fields["url.domain"] = scheme, host
                    path = slash + tail or "/"
                original["cs-method"] = fields["http.request.method"] = method
                original["cs-uri-stem"] = path
                original["cs-uri-query"] = original["cs-uri"] = original["c-uri"] = target
                if query:
                    original["c-uri-query"] = query
                _url_fields(fields, target, path, query)
                if protocol:
                    original["cs-version"] = protocol
                    fields["http.version"] = protocol[5:]
        if status != "-":
            original["sc-status"] = int(status)
            _outcome(fields, int(status))
        # %b writes "-" for a response without a body.
        original["sc-bytes"] = fields["http.response.body.bytes"] = (
            0 if size == "-" else int(size)
        )
        combined = agent is not None
        if combined:
            if referer and referer != "-":
                original["cs-referer"] = fields["http.request.referrer"] = _unquote(referer)
            if agent and agent != "-":
                original["cs-user-agent"] = fields["user_agent.original"] = _unquote(agent)
        if rest and rest.strip():
            _extra(rest, original)
        source = state.source
        return Event(
            timestamp=timestamp,
            data_type="web:access:combined" if combined else "web:access:common",
            fields=fields,
            original=original,
            logsource=_WEB,
            origin=Origin(source.path, offset, source.member),
            message=text,
        )


# ------------------------------------------------------------------------------ IIS

#: IIS columns renamed to the names SigmaHQ webserver rules use.
_IIS_SIGMA_NAMES = {
    "cs(Referer)": "cs-referer",
    "cs(Cookie)": "cs-cookie",
    "cs(Host)": "cs-host",
}
_IIS_INTS = frozenset({
    "sc-status", "sc-substatus", "sc-win32-status", "time-taken", "s-port", "c-port",
    "sc-bytes", "cs-bytes",
})
#: IIS column → ECS field, copied as is (after the int conversion above).
_IIS_ECS = (
    ("c-ip", "source.ip"),
    ("c-port", "source.port"),
    ("s-ip", "destination.ip"),
    ("s-port", "destination.port"),
    ("s-computername", "host.name"),
    ("s-sitename", "service.name"),
    ("cs-username", "user.name"),
    ("cs-method", "http.request.method"),
    ("cs-host", "url.domain"),
    ("sc-bytes", "http.response.bytes"),
    ("cs-bytes", "http.request.bytes"),
    ("cs-referer", "http.request.referrer"),
    ("cs-user-agent", "user_agent.original"),
)
_IIS_SOFTWARE = "Microsoft Internet Information Services"


@dataclass(slots=True)
class _IisState:
    source: SourceFile
    names: list[str] | None = None
    date: str | None = None
    software: str | None = None
    is_iis: bool = False
    renames: dict[str, str] = field(default_factory=dict)


def _iis_time(date: str, clock: str) -> datetime:
    try:
        return datetime(int(date[0:4]), int(date[5:7]), int(date[8:10]), int(clock[0:2]),
                        int(clock[3:5]), int(clock[6:8]), tzinfo=UTC)
    except ValueError:
        raise RecordError(f"bad date/time {date} {clock}", kind="bad-time") from None


@register
class IisW3cParser(LineParser[_IisState]):
    """IIS (and other W3C extended) web server logs with a ``#Fields:`` header (R8)."""

    NAME = "iis-w3c"
    DESCRIPTION = "IIS W3C extended log format (#Software/#Fields header)"

    def sniff(self, head: bytes, name: str) -> int:
        text = head[:8192].lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        if not text.startswith("#"):
            return 0
        if text.startswith("#Software: " + _IIS_SOFTWARE):
            return 100
        for line in text.splitlines():
            if line.startswith("#Fields:"):
                names = line[8:].split()
                return 95 if "cs-method" in names or "cs-uri-stem" in names else 0
            if not line.startswith("#"):
                break
        return 0

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _IisState:
        return _IisState(source)

    def parse_line(
        self, line: bytes, offset: int, state: _IisState, ctx: ParseContext
    ) -> Event | None:
        text = line.decode("utf-8", "replace").lstrip("\ufeff")
        if text.startswith("#"):
            self._header(text, state)
            return None
        names = state.names
        if names is None:
            raise RecordError("record before the #Fields header", kind="bad-header")
        values = text.split(" ")
        if len(values) != len(names):
            raise RecordError(f"{len(values)} values for {len(names)} fields",
                              kind="bad-columns")
        original: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            if value == "-":
                continue
            if name in _IIS_INTS:
                try:
                    original[name] = int(value)
                except ValueError:
                    raise RecordError(f"field {name}: bad number {value!r}",
                                      kind="bad-value") from None
            else:
                original[name] = value
        date = original.get("date") or state.date
        clock = original.get("time")
        if not date or not clock:
            raise RecordError("record has no date/time", kind="bad-time")
        timestamp = _iis_time(str(date), str(clock))
        self._sigma_names(original, state)
        fields = _base_fields()
        for column, target in _IIS_ECS:
            copied = original.get(column)
            if copied is not None:
                fields[target] = copied
        stem = original.get("cs-uri-stem")
        if isinstance(stem, str):
            query = original.get("c-uri-query")
            target = f"{stem}?{query}" if query else stem
            original["cs-uri-query"] = original["cs-uri"] = original["c-uri"] = target
            _url_fields(fields, target, stem, query)
        version = original.get("cs-version")
        if isinstance(version, str) and version.upper().startswith("HTTP/"):
            fields["http.version"] = version[5:]
        status = original.get("sc-status")
        if isinstance(status, int):
            _outcome(fields, status)
        taken = original.get("time-taken")
        if isinstance(taken, int):
            fields["event.duration"] = taken * 1_000_000
        source = state.source
        return Event(
            timestamp=timestamp,
            data_type="web:iis:w3c" if state.is_iis else "web:w3c:access",
            fields=fields,
            original=original,
            logsource=_IIS if state.is_iis else _WEB,
            origin=Origin(source.path, offset, source.member),
            message=text,
        )

    @staticmethod
    def _sigma_names(original: dict[str, Any], state: _IisState) -> None:
        """Add the Sigma names of IIS columns (the IIS names stay as well)."""
        for column, sigma in state.renames.items():
            value = original.get(column)
            if value is not None:
                original[sigma] = value
        agent = original.get("cs(User-Agent)")
        if isinstance(agent, str):
            # IIS writes spaces in the user agent as '+'.
            original["cs-user-agent"] = agent.replace("+", " ")
        query = original.pop("cs-uri-query", None)
        if query is not None:
            original["c-uri-query"] = query

    @staticmethod
    def _header(text: str, state: _IisState) -> None:
        key, _, value = text.partition(":")
        value = value.strip()
        if key == "#Fields":
            state.names = value.split()
            state.renames = {n: _IIS_SIGMA_NAMES[n] for n in state.names
                             if n in _IIS_SIGMA_NAMES}
        elif key == "#Date":
            state.date = value[:10] or None
        elif key == "#Software":
            state.software = value
            state.is_iis = value.startswith(_IIS_SOFTWARE)
