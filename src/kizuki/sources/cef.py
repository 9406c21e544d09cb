"""CEF and LEEF, the interchange formats of security products (R4, R11).

ArcSight CEF (``CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext``) and IBM
QRadar LEEF 1.0 / 2.0 (``LEEF:2.0|Vendor|Product|Version|EventID|^|key=value^...``) are
read bare or inside any syslog envelope (RFC 3164, RFC 3339, RFC 5424). Both parsers read
both formats, so a collector file that mixes them works whichever one the sniffer picks.

Escaping (CEF): in the header ``\\|`` and ``\\\\``; in the extension ``\\=``, ``\\\\``,
``\\n``, ``\\r``. An extension value runs until the next `` key=``, so values may hold
spaces; an unknown escape (``C:\\Windows``, as many products write paths) is kept as is.
LEEF values run to the next delimiter (tab for 1.0; for 2.0 the header's delimiter
field: a character, ``xHH`` or ``0xHH``).

Normalization, kept deliberately simple:

- ``@timestamp`` is ``rt`` (LEEF ``devTime``, read with ``devTimeFormat`` when given),
  else the syslog header's time, else ``end`` / ``start``, else the file's modification
  time (the event is then tagged ``timestamp-from-file``). ``start`` / ``end`` also go to
  ``event.start`` / ``event.end`` (ISO 8601 UTC). CEF times are epoch
  milliseconds (or seconds), ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`` or ISO 8601; a time
  without a zone is read in ``dtz`` when the record has one, else in ``ctx.settings.tz``.
- Header: Signature ID → ``event.code``; severity 0–10 → ``event.severity`` (the words
  Low / Medium / High / Very-High → 3 / 6 / 8 / 10); vendor / product / version →
  ``observer.vendor`` / ``observer.product`` / ``observer.version``; ``msg``, else Name,
  is the message.
- Extension keys (short CEF names; the long names and the LEEF names are first turned
  into them, see ``_ALIASES``) map to ECS through ``_ECS``: ``src``/``dst``/``spt``/``dpt``
  → source/destination ip/port, ``shost``/``dhost`` → source/destination.domain,
  ``suser`` → ``source.user.name`` and ``user.name`` (``duser`` when there is no
  ``suser``), ``duser`` → ``destination.user.name``, ``act`` → ``event.action``,
  ``request`` → ``url.original``, ``fname``/``filePath`` → ``file.name``/``file.path``,
  ``deviceExternalId`` → ``observer.serial_number``, ``dvchost`` → ``observer.hostname``…
- Custom fields ``cs1``..``cs6``, ``cn1``..``cn3``, ``cfp*``, ``c6a*``, ``flexString*``…
  become ``labels.<their Label>`` (``cs1Label=Policy`` → ``labels.Policy``); the raw
  pairs stay in ``original``.
- ``event.kind`` is ``"alert"`` when Name, ``cat`` or ``act`` speak of malware,
  intrusion, attack, threat, exploit, quarantine or an alert, else ``"event"``;
  ``event.category`` comes from the same words (``_CATEGORY_WORDS``; the raw ``cat`` stays in
  ``original``). An alert of an endpoint-security product (``_AV_PRODUCTS``: Trend Micro,
  McAfee, Sophos, Defender, CrowdStrike…) is about ``malware``. An alert gets
  ``rule.name`` = Name (for antivirus products usually the signature). LEEF has no Name
  header: its ``name`` attribute stands in when present, and the message is ``msg``.
- Firewall records (R2): when ``act`` names a decision (the keyword table of
  :mod:`kizuki.sources.firewall`) and the record has an address and is not about
  malware, it gets the firewall decision fields (``kizuki.firewall.decision``,
  ``event.action`` ``denied``/``allowed`` in place of the vendor's word, which stays in
  ``original["act"]``, ``event.type``, ``event.outcome``), ``observer.type``
  ``firewall``, ``observer.name`` (the device host) and logsource category ``firewall``.
- Logsource: product = the vendor, service = the product, lowercased with spaces as
  ``_`` (``Trend Micro|Deep Security`` → ``trend_micro`` / ``deep_security``); category
  ``antivirus`` for malware records (Sigma's antivirus rules), ``firewall`` as above.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.model.event import format_ts
from kizuki.sources.base import LineParser, ParseContext, SourceFile
from kizuki.sources.firewall import (
    PROTOCOLS,
    SyslogClock,
    decide,
    decision_fields,
    line_share,
    parse_header,
)
from kizuki.sources.registry import register

_FIELD = r"((?:[^|\\]|\\.)*)\|"
_CEF = re.compile(r"(?:^|(?<=[\s:>]))CEF: ?(\d+(?:\.\d+)?)\|" + _FIELD * 6 + r"(.*)$")
_LEEF = re.compile(r"(?:^|(?<=[\s:>]))LEEF: ?([12]\.0)\|" + _FIELD * 4 + r"(.*)$")
_SNIFF_CEF = re.compile(rb"(?:^|[\s:>])CEF: ?\d+(?:\.\d+)?\|(?:[^|]*\|){6}")
_SNIFF_LEEF = re.compile(rb"(?:^|[\s:>])LEEF: ?[12]\.0\|(?:[^|]*\|){4}")
# Splitting on " key=" yields [before, key1, value1, key2, value2, ...] in one C call.
_EXT_SPLIT = re.compile(r" +([A-Za-z0-9_.\[\]-]+)=")
_HEADER_ESCAPE = re.compile(r"\\([|\\])")
_EXT_ESCAPE = re.compile(r"\\([=\\nr|])")
_EXT_UNESCAPED = {"=": "=", "\\": "\\", "n": "\n", "r": "\r", "|": "|"}
_LEEF_DELIM = re.compile(r"(?:0?x)?([0-9A-Fa-f]{2})$")

_INTS = frozenset({"spt", "dpt", "fsize", "dpid", "in", "out", "sourceTranslatedPort",
                   "destinationTranslatedPort"})
#: Canonical (short CEF) extension key → ECS field.
_ECS: dict[str, str] = {
    "src": "source.ip", "dst": "destination.ip", "spt": "source.port",
    "dpt": "destination.port", "smac": "source.mac", "dmac": "destination.mac",
    "shost": "source.domain", "dhost": "destination.domain",
    "suser": "source.user.name", "duser": "destination.user.name",
    "suid": "source.user.id", "duid": "destination.user.id",
    "sntdom": "source.user.domain", "dntdom": "destination.user.domain",
    "act": "event.action", "request": "url.original", "requestMethod": "http.request.method",
    "requestClientApplication": "user_agent.original",
    "requestContext": "http.request.referrer", "fname": "file.name", "filePath": "file.path",
    "fsize": "file.size", "dproc": "process.name", "dpid": "process.pid",
    "app": "network.protocol", "dvc": "observer.ip", "dvchost": "observer.hostname",
    "deviceExternalId": "observer.serial_number",
    "deviceInboundInterface": "observer.ingress.interface.name",
    "deviceOutboundInterface": "observer.egress.interface.name",
    "externalId": "event.id", "reason": "event.reason", "in": "source.bytes",
    "out": "destination.bytes", "sourceTranslatedAddress": "source.nat.ip",
    "sourceTranslatedPort": "source.nat.port",
    "destinationTranslatedAddress": "destination.nat.ip",
    "destinationTranslatedPort": "destination.nat.port",
}
#: Long CEF names and LEEF attribute names → the short CEF key used above.
_ALIASES: dict[str, str] = {
    "sourceAddress": "src", "destinationAddress": "dst", "sourcePort": "spt",
    "destinationPort": "dpt", "sourceMacAddress": "smac", "destinationMacAddress": "dmac",
    "sourceHostName": "shost", "destinationHostName": "dhost", "sourceUserName": "suser",
    "destinationUserName": "duser", "sourceUserId": "suid", "destinationUserId": "duid",
    "sourceNtDomain": "sntdom", "destinationNtDomain": "dntdom", "deviceAction": "act",
    "requestUrl": "request", "fileName": "fname", "fileSize": "fsize",
    "destinationProcessName": "dproc", "destinationProcessId": "dpid",
    "applicationProtocol": "app", "deviceAddress": "dvc", "deviceHostName": "dvchost",
    "transportProtocol": "proto", "deviceEventCategory": "cat", "message": "msg",
    "deviceReceiptTime": "rt", "startTime": "start", "endTime": "end",
    "bytesIn": "in", "bytesOut": "out", "deviceTimeZone": "dtz", "eventOutcome": "outcome",
    # LEEF 1.0 / 2.0 predefined attributes
    "srcPort": "spt", "dstPort": "dpt", "srcMAC": "smac", "dstMAC": "dmac",
    "usrName": "suser", "identHostName": "shost", "devTime": "rt", "url": "request",
    "action": "act", "srcBytes": "in", "dstBytes": "out", "srcPostNAT": "sourceTranslatedAddress",
    "dstPostNAT": "destinationTranslatedAddress", "srcPostNATPort": "sourceTranslatedPort",
    "dstPostNATPort": "destinationTranslatedPort",
}
_CUSTOM: dict[str, str] = {}  # value key → its label key
for _short, _long, _count in (("cs", "deviceCustomString", 6), ("cn", "deviceCustomNumber", 3),
                              ("cfp", "deviceCustomFloatingPoint", 4),
                              ("c6a", "deviceCustomIPv6Address", 4),
                              ("flexString", "flexString", 2), ("flexNumber", "flexNumber", 2),
                              ("deviceCustomDate", "deviceCustomDate", 2),
                              ("flexDate", "flexDate", 1)):
    for _i in range(1, _count + 1):
        _CUSTOM[f"{_short}{_i}"] = f"{_short}{_i}Label"
        if _long != _short:
            _ALIASES[f"{_long}{_i}"] = f"{_short}{_i}"
            _ALIASES[f"{_long}{_i}Label"] = f"{_short}{_i}Label"

_SEVERITY_WORDS = {"low": 3, "medium": 6, "high": 8, "very-high": 10, "very high": 10,
                   "critical": 10}
#: Words of Name / cat / act → ECS event.category (in this order); any match except
#: "authentication" and "network", or the word "alert", makes the event an alert.
_CATEGORY_WORDS: tuple[tuple[str, str], ...] = (
    ("malware", r"malware|virus|trojan|worm\b|ransom|spyware|adware|backdoor|infect|"
                r"quarantin|\bpup\b|riskware|hacktool"),
    ("intrusion_detection", r"intrusion|\bid[sp]\b|exploit|attack|threat|\bc2\b|"
                            r"command.and.control|suspicious|anomal|scan"),
    ("authentication", r"auth|log[io]n|logoff|password|credential"),
    ("network", r"firewall|traffic|connection|\bflow\b|\bnetwork\b"),
    ("alert", r"\balert"),
)
_CATEGORIES = re.compile("|".join(f"(?P<{name}>{words})" for name, words in _CATEGORY_WORDS),
                         re.I)
_CATEGORY_ORDER = tuple(name for name, _ in _CATEGORY_WORDS if name != "alert")
#: Endpoint-security products: their alerts are about malware (Sigma category antivirus).
_AV_PRODUCTS = re.compile(
    r"anti-?virus|anti-?malware|endpoint|epolicy|deep security|apex one|officescan|sophos|"
    r"defender|crowdstrike|falcon|sentinel ?one|trellix|mcafee|kaspersky|eset|bitdefender|"
    r"symantec|cylance|carbon ?black|trend ?micro", re.I)
_NOT_ALERT = frozenset({"authentication", "network"})
_OUTCOMES = frozenset({"success", "failure", "unknown"})
_DIRECTIONS = {"0": "inbound", "1": "outbound"}
_ZONES: dict[str, tzinfo] = {
    "Z": UTC, "UTC": UTC, "GMT": UTC, "JST": timezone(timedelta(hours=9)),
    "KST": timezone(timedelta(hours=9)), "EST": timezone(timedelta(hours=-5)),
    "EDT": timezone(timedelta(hours=-4)), "CST": timezone(timedelta(hours=-6)),
    "CDT": timezone(timedelta(hours=-5)), "MST": timezone(timedelta(hours=-7)),
    "MDT": timezone(timedelta(hours=-6)), "PST": timezone(timedelta(hours=-8)),
    "PDT": timezone(timedelta(hours=-7)), "CET": timezone(timedelta(hours=1)),
    "CEST": timezone(timedelta(hours=2)),
}
_DATED = re.compile(r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2})(?: (?P<year>\d{4}))?"
                    r" (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?(?: (?P<zone>\S+))?$")
_OFFSET = re.compile(r"(?:GMT|UTC)?([+-])(\d\d):?(\d\d)$")
_JAVA_TOKENS = re.compile(r"'[^']*'|y+|M+|d+|H+|h+|m+|s+|S+|a|Z+|X+|z+|E+")
_JAVA = {"yyyy": "%Y", "yy": "%y", "MMM": "%b", "MM": "%m", "M": "%m", "dd": "%d", "d": "%d",
         "HH": "%H", "H": "%H", "hh": "%I", "h": "%I", "mm": "%M", "m": "%M", "ss": "%S",
         "s": "%S", "a": "%p", "EEE": "%a", "E": "%a"}


def _zone(name: str | None) -> tzinfo | None:
    """A zone named by a CEF/LEEF record (IANA, abbreviation, ``GMT+09:00``), or None."""
    if not name:
        return None
    if name in _ZONES:
        return _ZONES[name]
    m = _OFFSET.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=64)
def _java_format(pattern: str) -> str:
    """A Java SimpleDateFormat pattern (LEEF ``devTimeFormat``) as a strptime format."""
    def token(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.startswith("'"):
            return tok[1:-1].replace("%", "%%") or "'"
        if tok[0] == "S":
            return "%f"
        if tok[0] in "ZX":
            return "%z"
        if tok[0] == "z":
            return "%Z"
        return _JAVA.get(tok, tok)
    return _JAVA_TOKENS.sub(token, pattern)


def parse_time(value: str, clock: SyslogClock, tz: tzinfo | None = None,
               java_format: str | None = None) -> datetime:
    """A CEF / LEEF time: epoch (ms or s), ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]``, ISO."""
    value = value.strip()
    if java_format:
        try:
            ts = datetime.strptime(value, _java_format(java_format))
        except ValueError:
            pass  # a wrong devTimeFormat: try the usual shapes below
        else:
            return clock.local(ts, tz) if ts.tzinfo is None else ts.astimezone(UTC)
    if value.replace(".", "", 1).isdigit():
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if number >= 1e11 else number, UTC)
    m = _DATED.match(value)
    if m:
        zone = _zone(m.group("zone")) if m.group("zone") else None
        if m.group("zone") and zone is None:
            raise RecordError(f"unknown time zone in {value!r}", kind="bad-timestamp")
        year = m.group("year")
        return clock.dated(m.group("mon"), m.group("day"), int(year) if year else None,
                           m.group("hms"), m.group("frac"), zone or tz)
    try:
        return clock.iso(value.replace(" ", "T", 1) if value[10:11] == " " else value, tz)
    except ValueError:
        raise RecordError(f"unreadable time {value!r}", kind="bad-timestamp") from None


def _unescape_ext(value: str) -> str:
    return _EXT_ESCAPE.sub(lambda m: _EXT_UNESCAPED[m.group(1)], value)


def parse_extension(ext: str) -> dict[str, str]:
    """CEF extension ``k=v k2=v with spaces`` into a dict, escapes undone."""
    parts = _EXT_SPLIT.split(" " + ext.rstrip(" "))
    pairs = iter(parts[1:])
    return {k: _unescape_ext(v) if "\\" in v else v for k, v in zip(pairs, pairs, strict=False)}


def _leef_attributes(version: str, rest: str) -> dict[str, str]:
    delim = "\t"
    if version == "2.0":
        # LEEF 2.0 may carry a delimiter field (one character, xHH or 0xHH) before the
        # attributes; when it is absent the attributes start right away.
        head, bar, tail = rest.partition("|")
        if bar and len(head) <= 4 and "=" not in head:
            hexed = _LEEF_DELIM.match(head) if len(head) > 1 else None
            delim = chr(int(hexed.group(1), 16)) if hexed else head or "\t"
            rest = tail
    out: dict[str, str] = {}
    for pair in rest.split(delim):
        key, eq, value = pair.partition("=")
        if eq and key.strip():
            out[key.strip()] = value
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@lru_cache(maxsize=256)
def _logsource(vendor: str, product: str, category: str | None) -> LogSource:
    return LogSource(product=_slug(vendor) or None, service=_slug(product) or None,
                     category=category)


@lru_cache(maxsize=256)
def _label(text: str) -> str:
    return re.sub(r"[^\w-]+", "_", text).strip("_")


@lru_cache(maxsize=4096)
def _categorize(words: str, device: str) -> tuple[tuple[str, ...], bool]:
    """ECS categories and alert-ness of a record's Name / cat / act, for its device.

    Cached: a product repeats the same few names and categories over and over.
    """
    found = {m.lastgroup for m in _CATEGORIES.finditer(words)}
    categories = [cat for cat in _CATEGORY_ORDER if cat in found]
    alert = "alert" in found or any(c not in _NOT_ALERT for c in categories)
    if alert and "malware" not in categories and _AV_PRODUCTS.search(device):
        categories.insert(0, "malware")
    return tuple(categories), alert


def _severity(value: str) -> int | None:
    value = value.strip()
    if value.isdigit():
        return int(value)
    return _SEVERITY_WORDS.get(value.lower())


class _InterchangeParser(LineParser[SyslogClock]):
    """Reads CEF and LEEF lines alike; the subclasses differ in name and sniffing."""

    def new_state(self, source: SourceFile, ctx: ParseContext) -> SyslogClock:
        return SyslogClock(source, ctx.settings)

    def parse_line(self, line: bytes, offset: int, state: SyslogClock, ctx: ParseContext
                   ) -> Event | None:
        text = line.decode("utf-8", "replace")
        m = _CEF.search(text)
        if m is not None:
            vendor, product, version, sig_id, name, sev = (
                _HEADER_ESCAPE.sub(r"\1", g) if "\\" in g else g for g in m.groups()[1:7])
            original: dict[str, Any] = {
                "version": m.group(1), "deviceVendor": vendor, "deviceProduct": product,
                "deviceVersion": version, "deviceEventClassId": sig_id, "name": name,
                "severity": sev,
            }
            ext = parse_extension(m.group(8))
            data_type = "cef:record"
        else:
            m = _LEEF.search(text)
            if m is None:
                kind = "bad-header" if "CEF:" in text or "LEEF:" in text else "not-cef"
                raise RecordError("no complete CEF or LEEF header", kind=kind)
            vendor, product, version, sig_id = (
                _HEADER_ESCAPE.sub(r"\1", g) if "\\" in g else g for g in m.groups()[1:5])
            original = {"version": m.group(1), "vendor": vendor, "product": product,
                        "productVersion": version, "eventId": sig_id}
            ext = _leef_attributes(m.group(1), m.group(6))
            name = ext.get("name", "")  # LEEF has no Name; some products add the attribute
            sev = ext.get("sev", "")
            data_type = "leef:record"
        original.update(ext)
        canon = {_ALIASES.get(k, k): v for k, v in ext.items()}
        fields: dict[str, Any] = {"event.code": sig_id, "observer.vendor": vendor,
                                  "observer.product": product}
        if version:
            fields["observer.version"] = version
        severity = _severity(sev)
        if severity is not None:
            fields["event.severity"] = severity
        for key, value in canon.items():
            target = _ECS.get(key)
            if target is None or value == "":
                continue
            if key in _INTS:
                if not value.isdigit():
                    continue
                fields[target] = int(value)
            else:
                fields[target] = value
        self._extras(fields, canon)
        when, header_host = parse_header(text[:m.start()], state)
        if header_host and "observer.hostname" not in fields:
            fields["observer.hostname"] = header_host
        tags: list[str] = []
        when = self._when(fields, canon, when, state, ctx, tags)
        logsource = self._classify(fields, canon, name, vendor, product)
        return Event(when, data_type, fields, original, logsource,
                     Origin(ctx.source.path, offset, ctx.source.member),
                     canon.get("msg") or name or None, tuple(tags))

    @staticmethod
    def _extras(fields: dict[str, Any], canon: dict[str, str]) -> None:
        user = canon.get("suser") or canon.get("duser")
        if user:
            fields["user.name"] = user
        proto = canon.get("proto")
        if proto:
            fields["network.transport"] = PROTOCOLS.get(proto, proto.lower())
        if "network.protocol" in fields:
            fields["network.protocol"] = fields["network.protocol"].lower()
        outcome = canon.get("outcome", "").lower()
        if outcome in _OUTCOMES:
            fields["event.outcome"] = outcome
        direction = _DIRECTIONS.get(canon.get("deviceDirection", ""))
        if direction:
            fields["network.direction"] = direction
        for key, value in canon.items():
            label_key = _CUSTOM.get(key)
            if label_key is not None and value:
                label = _label(canon.get(label_key, "")) or key
                fields[f"labels.{label}"] = value

    @staticmethod
    def _when(fields: dict[str, Any], canon: dict[str, str], header_time: datetime | None,
              clock: SyslogClock, ctx: ParseContext, tags: list[str]) -> datetime:
        """``@timestamp`` by the order of the module docstring; sets event.start / end."""
        tz = _zone(canon.get("dtz"))
        fmt = canon.get("devTimeFormat")
        for key in ("start", "end"):
            if canon.get(key):
                fields[f"event.{key}"] = format_ts(parse_time(canon[key], clock, tz, fmt))
        rt = canon.get("rt")
        if rt:
            return parse_time(rt, clock, tz, fmt)
        if header_time is not None:
            return header_time
        for key in ("end", "start"):
            if canon.get(key):
                return parse_time(canon[key], clock, tz, fmt)
        if ctx.source.mtime is not None:
            tags.append("timestamp-from-file")
            return ctx.source.mtime.astimezone(UTC)
        raise RecordError("record has no time (no rt, start, end or syslog header)",
                          kind="bad-timestamp")

    @staticmethod
    def _classify(fields: dict[str, Any], canon: dict[str, str], name: str, vendor: str,
                  product: str) -> LogSource:
        """Kind, category, firewall decision and logsource (see the module docstring)."""
        act = canon.get("act")
        words = f"{name} {canon.get('cat', '')} {act or ''}"
        found, alert = _categorize(words, f"{vendor} {product}")
        categories = list(found)
        category: str | None = "antivirus" if "malware" in categories else None
        decision = decide(act) if act else "unknown"
        if decision != "unknown" and category is None and (
                "source.ip" in fields or "destination.ip" in fields):
            fields.update(decision_fields(decision))  # the vendor's act stays in original
            fields["observer.type"] = "firewall"
            if "observer.hostname" in fields:
                fields["observer.name"] = fields["observer.hostname"]
            if "network" not in categories:
                categories.insert(0, "network")
            category = "firewall"
        fields["event.kind"] = "alert" if alert else "event"
        if categories:
            fields["event.category"] = categories
        if alert and name:
            fields["rule.name"] = name
        return _logsource(vendor, product, category)


@register
class CefParser(_InterchangeParser):
    """ArcSight Common Event Format lines, bare or in syslog (R4, R11)."""

    NAME = "cef"
    DESCRIPTION = "ArcSight CEF (security products, firewalls), bare or in syslog (R4)"

    def sniff(self, head: bytes, name: str) -> int:
        share = line_share(head, _SNIFF_CEF)
        return 90 if share >= 0.5 else 40 if share >= 0.2 else 0


@register
class LeefParser(_InterchangeParser):
    """IBM QRadar Log Event Extended Format 1.0 / 2.0 lines, bare or in syslog (R4)."""

    NAME = "leef"
    DESCRIPTION = "IBM LEEF 1.0 / 2.0 (security products), bare or in syslog (R4)"

    def sniff(self, head: bytes, name: str) -> int:
        share = line_share(head, _SNIFF_LEEF)
        return 90 if share >= 0.5 else 40 if share >= 0.2 else 0

