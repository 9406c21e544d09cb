"""Boundary firewall logs: netfilter LOG lines, Cisco ASA syslog, pfSense filterlog (R2).

Deny logs matter most (R2: malware tries to get out), so every event says what the
firewall decided, in explicit normalized fields:

- ``kizuki.firewall.decision``: ``"deny"``, ``"allow"`` or ``"unknown"``;
- ``event.action``: ``"denied"`` or ``"allowed"`` (absent when unknown);
- ``event.type``: ``["connection", "denied"]``, ``["connection", "allowed"]`` or
  ``["connection"]`` (ASA connection built / teardown add ``"start"`` / ``"end"``);
- ``event.outcome``: ``"failure"`` for a deny, ``"success"`` for an allow, else
  ``"unknown"``.

``event.outcome`` follows ECS (did the connection the event describes happen?); the
decision itself is in ``event.action`` and ``kizuki.firewall.decision``. Drop, reject and
block all count as deny. Every event also has ``event.category: ["network"]``, source /
destination ip and port, ``network.transport``, ``observer.*`` (the firewall: ``name`` is
the host of the syslog header, ``type`` ``"firewall"``, vendor, product), the interfaces
as ``observer.ingress.interface.name`` / ``observer.egress.interface.name``, ``rule.name``
(log prefix or ACL name) and the Sigma logsource ``category: firewall`` with product
``linux``, ``cisco`` (service ``asa``) or ``pfsense``.

``network.direction`` is set only when the log says it: the ASA's own
``inbound``/``outbound`` (perimeter view); pfSense ``in``/``out`` and a netfilter line with
only ``IN=`` or only ``OUT=`` are relative to an interface or host, so they become ECS
``ingress``/``egress``; a forwarded netfilter packet (both set) has no direction.

Netfilter has no decision of its own: the log prefix decides, through a keyword table
(:data:`DECISION_KEYWORDS`, overridable per parser instance). A prefix without a keyword
(``"[UFW AUDIT] "``) gives ``unknown``, never a guess.

Cisco ASA: ``event.code`` is the message id, ``event.severity`` and ``log.level`` come
from its severity digit. Messages 106001, 106006/7, 106023, 106100, 302013–302016,
419002, 710003 and 733100 are read field by field (733100, threat detection, is an
alert); any other message is kept with its text and decision ``unknown``. A Built
message names the lower-security side first, so for ``outbound`` connections the second
endpoint is the source; a Teardown has no direction and keeps the ASA's order.
pfSense: ``rule.id`` is the rule's tracker id; the CSV columns keep the names of the
filterlog documentation in ``original``.

Header times without a year or zone (``Mar  4 01:02:03``) are read in
``ctx.settings.tz``; the year is ``ctx.settings.year`` or the file's modification year
(see :class:`SyslogClock`), the RFC 3164 rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from ipaddress import IPv6Address
from typing import Any, Literal

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.sources.base import LineParser, ParseContext, SourceFile, SourceSettings
from kizuki.sources.registry import register

Decision = Literal["deny", "allow", "unknown"]

#: Words of a log prefix (or a vendor action) that tell the decision; matched as whole
#: words, case-insensitively. Override per parser with ``IptablesParser(keywords=...)``.
DECISION_KEYWORDS: Mapping[str, Decision] = {
    **dict.fromkeys(
        ("drop", "dropped", "deny", "denied", "reject", "rejected", "block", "blocked"),
        "deny",
    ),
    **dict.fromkeys(
        ("accept", "accepted", "allow", "allowed", "pass", "passed", "permit", "permitted"),
        "allow",
    ),
}

_OUTCOME = {"deny": "failure", "allow": "success", "unknown": "unknown"}
_ACTION = {"deny": "denied", "allow": "allowed"}
#: IP protocol numbers seen in logs that print a number instead of a name.
PROTOCOLS = {"1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp",
             "51": "ah", "58": "ipv6-icmp", "89": "ospf", "112": "vrrp", "132": "sctp"}
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def keyword_pattern(keywords: Mapping[str, Decision]) -> re.Pattern[str]:
    """A regex finding any keyword of ``keywords`` as a whole word in lowercased text."""
    words = "|".join(sorted((re.escape(k.lower()) for k in keywords), key=len, reverse=True))
    return re.compile(rf"(?<![a-z])({words})(?![a-z])")


_DEFAULT_PATTERN = keyword_pattern(DECISION_KEYWORDS)


def decide(text: str, pattern: re.Pattern[str] = _DEFAULT_PATTERN,
           keywords: Mapping[str, Decision] = DECISION_KEYWORDS) -> Decision:
    """The decision the first keyword of ``text`` names, or ``unknown``."""
    m = pattern.search(text.lower())
    return keywords[m.group(1)] if m else "unknown"


def decision_fields(decision: Decision, *extra_types: str) -> dict[str, Any]:
    """The normalized decision fields of a firewall event (see the module docstring)."""
    types = ["connection", _ACTION[decision]] if decision != "unknown" else ["connection"]
    types.extend(extra_types)
    fields: dict[str, Any] = {
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": types,
        "event.outcome": _OUTCOME[decision],
        "kizuki.firewall.decision": decision,
    }
    if decision != "unknown":
        fields["event.action"] = _ACTION[decision]
    return fields


class SyslogClock:
    """Turns syslog header times into aware UTC, per file.

    A time without a zone is read in ``settings.tz``. The year of an RFC 3164 stamp
    (``Mar  4 01:02:03``) follows the rule of :mod:`kizuki.sources.syslog`:
    ``settings.year`` when set, else the year of the file's modification time (or of
    now, for a source without one), where a month later than that time's month belongs
    to the year before (a December line in a file last written in January).
    """

    __slots__ = ("last_header", "last_result", "month", "tz", "year")

    def __init__(self, source: SourceFile, settings: SourceSettings) -> None:
        self.tz = settings.tz
        if settings.year is not None:
            self.year, self.month = settings.year, 12
        else:
            ref = (source.mtime or datetime.now(UTC)).astimezone(self.tz)
            self.year, self.month = ref.year, ref.month
        # Busy firewalls write many lines per second: one-entry cache of parse_header.
        self.last_header: str | None = None
        self.last_result: tuple[datetime | None, str | None] = (None, None)

    def local(self, naive: datetime, tz: tzinfo | None = None) -> datetime:
        """A naive local time of this source (or of ``tz``) as aware UTC."""
        return naive.replace(tzinfo=tz or self.tz).astimezone(UTC)

    def iso(self, text: str, tz: tzinfo | None = None) -> datetime:
        """An ISO 8601 / RFC 3339 stamp; without an offset it is local time (or ``tz``)."""
        ts = datetime.fromisoformat(text)
        return self.local(ts, tz) if ts.tzinfo is None else ts.astimezone(UTC)

    def dated(self, month: str, day: str, year: int | None, hms: str, frac: str | None,
              tz: tzinfo | None = None) -> datetime:
        """``Mar  4 [2024] 01:02:03[.123]`` in local time (or ``tz``); no year: RFC 3164 rule."""
        mon = _MONTHS.get(month)
        if mon is None:
            raise RecordError(f"unknown month {month!r}", kind="bad-timestamp")
        if year is None:
            year = self.year - 1 if mon > self.month else self.year
        us = int((frac or ".0")[1:7].ljust(6, "0"))
        try:
            naive = datetime(year, mon, int(day), int(hms[0:2]), int(hms[3:5]), int(hms[6:8]),
                             us)
        except ValueError as exc:
            raise RecordError(f"invalid date: {exc}", kind="bad-timestamp") from None
        return self.local(naive, tz)


_HEADER_TOKEN = re.compile(
    r"\s*(?:(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)(?!\S)"
    r"|(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) +(?:(?P<year>\d{4}) +)?"
    r"(?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?:?(?!\S)"
    r"|(?P<tok>\S+))"
)


def parse_header(header: str, clock: SyslogClock) -> tuple[datetime | None, str | None]:
    """The time and host of a syslog header (the text before the message).

    Accepts ``<PRI>``, RFC 3164 (``Mar  4 01:02:03 host``), RFC 3339 (``2024-03-04T01:02:03
    +09:00 host``), RFC 5424 (``<PRI>1 ts host app procid msgid``) and headers that carry
    two stamps (a relay's and the device's own, ``Mar 04 2024 01:02:03``): the most
    precise stamp wins (zone, then year); the host is the first word that is not a
    stamp, a program tag (``prog[pid]:``), a version number or ``-``.
    """
    if header == clock.last_header:
        return clock.last_result
    result = _parse_header(header, clock)
    clock.last_header, clock.last_result = header, result
    return result


def _parse_header(header: str, clock: SyslogClock) -> tuple[datetime | None, str | None]:
    if header.startswith("<"):
        end = header.find(">")
        if 0 < end < 5:
            header = header[end + 1:]
    best: re.Match[str] | None = None
    best_rank = 0
    host: str | None = None
    for m in _HEADER_TOKEN.finditer(header):
        tok = m.group("tok")
        if tok is not None:
            if host is None and not (tok.endswith(":") or "[" in tok or tok == "-"
                                     or tok.isdigit()):
                host = tok
            continue
        rank = 3 if m.group("iso") else 2 if m.group("year") else 1
        if rank > best_rank:
            best, best_rank = m, rank
    if best is None:
        return None, host
    if best_rank == 3:
        return clock.iso(best.group("iso")), host
    year = best.group("year")
    return clock.dated(best.group("mon"), best.group("day"), int(year) if year else None,
                       best.group("hms"), best.group("frac")), host


def line_share(head: bytes, pattern: re.Pattern[bytes], limit: int = 200) -> float:
    """The share of the first non-blank lines of ``head`` that ``pattern`` finds."""
    lines = head.splitlines()
    if len(head) >= 64 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # the last line of a full head is cut short
    seen = hits = 0
    for line in lines:
        if not line.strip():
            continue
        seen += 1
        if pattern.search(line):
            hits += 1
        if seen >= limit:
            break
    return hits / seen if seen else 0.0


def _share_score(share: float, high: int) -> int:
    # Mostly firewall lines: ours. Some: a plain syslog parser should take the file.
    return high if share >= 0.5 else 40 if share >= 0.2 else 0


def _observer(fields: dict[str, Any], host: str | None, vendor: str, product: str) -> None:
    fields["observer.type"] = "firewall"
    fields["observer.vendor"] = vendor
    fields["observer.product"] = product
    if host:
        fields["observer.name"] = host


def _endpoints(fields: dict[str, Any], sip: str | None, sport: str | None,
               dip: str | None, dport: str | None, proto: str | None) -> None:
    if sip:
        fields["source.ip"] = sip
        fields["network.type"] = "ipv6" if ":" in sip else "ipv4"
    if sport:
        fields["source.port"] = int(sport)
    if dip:
        fields["destination.ip"] = dip
    if dport:
        fields["destination.port"] = int(dport)
    if proto:
        proto = proto.lower()
        fields["network.transport"] = PROTOCOLS.get(proto, proto)


# --------------------------------------------------------------------------- netfilter

_KERNEL = re.compile(r"(?:^|\s)kernel:\s+(?:\[\s*\d+\.\d+\]\s*)?")
_NETFILTER_FIELDS = re.compile(r"(?:^|\s)IN=\S*\s+OUT=")
_NF_PAIR = re.compile(r"([A-Z][A-Z0-9_]*)=(\S*)")
_NF_FLAG = re.compile(r"(?<!\S)([A-Z]+)(?!\S)")
_SNIFF_NETFILTER = re.compile(rb"kernel:.*\bIN=\S*\s+OUT=\S*.*\bSRC=")
_NETFILTER_SOURCE = LogSource(product="linux", category="firewall")


def _mac_pair(mac: str) -> tuple[str, str] | None:
    """Destination and source MAC of the 14-byte Ethernet header netfilter prints."""
    octets = mac.split(":")
    if len(octets) != 14:
        return None
    return "-".join(octets[0:6]).upper(), "-".join(octets[6:12]).upper()


@register
class IptablesParser(LineParser[SyslogClock]):
    """Netfilter ``LOG``/``nflog`` lines (iptables, nftables, UFW, firewalld) in syslog."""

    NAME = "iptables"
    DESCRIPTION = "iptables / nftables LOG lines from kern.log, syslog or journald (R2)"

    def __init__(self, keywords: Mapping[str, Decision] | None = None) -> None:
        self.keywords = ({k.lower(): v for k, v in keywords.items()} if keywords is not None
                         else DECISION_KEYWORDS)
        self.pattern = keyword_pattern(self.keywords) if keywords else _DEFAULT_PATTERN

    def sniff(self, head: bytes, name: str) -> int:
        return _share_score(line_share(head, _SNIFF_NETFILTER), 85)

    def new_state(self, source: SourceFile, ctx: ParseContext) -> SyslogClock:
        return SyslogClock(source, ctx.settings)

    def parse_line(self, line: bytes, offset: int, state: SyslogClock, ctx: ParseContext
                   ) -> Event | None:
        text = line.decode("utf-8", "replace")
        kernel = _KERNEL.search(text)
        if kernel is None:
            raise RecordError("not a kernel line", kind="not-firewall")
        msg = text[kernel.end():]
        start = _NETFILTER_FIELDS.search(msg)
        if start is None:
            raise RecordError("kernel line without netfilter IN=/OUT= fields",
                              kind="not-firewall")
        prefix = msg[:start.start()].strip()
        body = msg[start.start():]
        quoted = body.find(" [")
        if quoted >= 0:
            body = body[:quoted]  # the packet quoted inside an ICMP error is not this one
        pairs = _NF_PAIR.findall(body)
        original: dict[str, Any] = dict(pairs)
        if len(original) != len(pairs):
            original.update(reversed(pairs))  # UDP repeats LEN, ICMP ID: keep the first
        for flag in _NF_FLAG.findall(body):
            original[flag] = True  # bare flags: DF, SYN, ACK, ...
        src, dst = original.get("SRC"), original.get("DST")
        if not isinstance(src, str) or not src or not isinstance(dst, str) or not dst:
            raise RecordError("netfilter line without SRC/DST", kind="bad-record")
        if ":" in src:
            # The kernel prints IPv6 in full (fe80:0000:...); ECS wants the usual form.
            src, dst = str(IPv6Address(src)), str(IPv6Address(dst))
        when, host = parse_header(text[:kernel.start()], state)
        if when is None:
            raise RecordError("no timestamp in the syslog header", kind="bad-timestamp")
        rule = prefix.strip("[]: ").rstrip(":").strip()
        original["prefix"] = prefix
        fields = decision_fields(decide(prefix, self.pattern, self.keywords))
        _observer(fields, host, "Linux", "netfilter")
        if host:
            fields["host.name"] = host
        if rule:
            fields["rule.name"] = rule
        _endpoints(fields, src, original.get("SPT"), dst,
                   original.get("DPT"), original.get("PROTO"))
        iface_in, iface_out = original.get("IN"), original.get("OUT")
        if iface_in:
            fields["observer.ingress.interface.name"] = iface_in
        if iface_out:
            fields["observer.egress.interface.name"] = iface_out
        if iface_in and not iface_out:
            fields["network.direction"] = "ingress"
        elif iface_out and not iface_in:
            fields["network.direction"] = "egress"
        mac = original.get("MAC")
        macs = _mac_pair(mac) if isinstance(mac, str) else None
        if macs is not None:
            fields["destination.mac"], fields["source.mac"] = macs
        uid = original.get("UID")
        if uid:
            fields["user.id"] = uid
        return Event(when, "firewall:iptables:line", fields, original, _NETFILTER_SOURCE,
                     Origin(ctx.source.path, offset, ctx.source.member), msg.strip())


# --------------------------------------------------------------------------- Cisco ASA

_ASA_TAG = re.compile(r"%(?P<fac>ASA|FTD|PIX|FWSM)-(?:[a-z]+-)?(?P<sev>[0-7])-(?P<id>\d{6}):?\s*")
_SNIFF_ASA = re.compile(rb"%(?:ASA|FTD|PIX|FWSM)-(?:[a-z]+-)?[0-7]-\d{6}")
_ASA_SOURCE = LogSource(product="cisco", service="asa", category="firewall")
_LEVELS = ("emergency", "alert", "critical", "error", "warning", "notification",
           "informational", "debugging")
_IP = r"[0-9A-Fa-f.:]*[0-9A-Fa-f]"


def _ep(p: str, port: bool = True) -> str:
    """``interface:address/port`` as the ASA writes an endpoint; groups prefixed ``p``."""
    tail = rf"(?:/(?P<{p}port>\d+))?" if port else ""
    return rf"(?P<{p}if>[^\s:/]+):(?P<{p}ip>{_IP}){tail}"


_EXTRA = r"(?: \([^)]*\))*"  # mapped addresses, identity-firewall users, FQDNs
_ASA_MESSAGES: dict[str, tuple[re.Pattern[str], Decision | None, tuple[str, ...]]] = {
    "106001": (re.compile(
        rf"(?P<dir>Inbound) (?P<proto>\S+) connection denied from (?P<sip>{_IP})/(?P<sport>\d+)"
        rf" to (?P<dip>{_IP})/(?P<dport>\d+) flags .*? on interface (?P<sif>\S+)"), "deny", ()),
    "106006": (re.compile(
        rf"Deny (?P<dir>inbound) (?P<proto>\S+) from (?P<sip>{_IP})/(?P<sport>\d+)"
        rf" to (?P<dip>{_IP})/(?P<dport>\d+)(?: on interface (?P<sif>\S+))?"), "deny", ()),
    "106023": (re.compile(
        rf"Deny (?:protocol )?(?P<proto>\S+) src {_ep('s')}{_EXTRA} dst {_ep('d')}{_EXTRA}"
        rf'.*? by access-group "(?P<acl>[^"]*)"'), "deny", ()),
    "106100": (re.compile(
        rf"access-list (?P<acl>\S+) (?P<act>permitted|denied|est-allowed) (?P<proto>\S+)"
        rf" (?P<sif>[^\s/]+)/(?P<sip>{_IP})\((?P<sport>\d+)\){_EXTRA} (?:-> )?"
        rf"(?P<dif>[^\s/]+)/(?P<dip>{_IP})\((?P<dport>\d+)\)"), None, ()),
    "302013": (re.compile(
        rf"Built (?P<dir>inbound|outbound) (?P<proto>TCP|UDP) connection (?P<cid>\d+)"
        rf" for {_ep('a')}{_EXTRA} to {_ep('b')}"), "allow", ("start",)),
    "302014": (re.compile(
        rf"Teardown (?P<proto>TCP|UDP) connection (?P<cid>\d+) for {_ep('s')}{_EXTRA}"
        rf" to {_ep('d')}{_EXTRA} duration (?P<dur>\d+:\d\d:\d\d) bytes (?P<bytes>\d+)"
        r"(?: (?P<reason>.+))?"), "allow", ("end",)),
    "419002": (re.compile(
        rf"Duplicate (?P<proto>TCP) SYN from {_ep('s')} to {_ep('d')}"), "deny", ()),
    "710003": (re.compile(
        rf"(?P<proto>TCP|UDP) access denied by ACL from (?P<sip>{_IP})/(?P<sport>\d+)"
        rf" to {_ep('d')}"), "deny", ()),
    "733100": (re.compile(
        r"\[\s*(?P<object>[^\]]+?)\s*\] drop (?P<rate>rate-\d+) exceeded"), "deny", ()),
}
_ASA_MESSAGES["106007"] = _ASA_MESSAGES["106006"]
_ASA_MESSAGES["302015"] = _ASA_MESSAGES["302013"]
_ASA_MESSAGES["302016"] = _ASA_MESSAGES["302014"]
_ASA_DECISIONS: dict[str, Decision] = {"permitted": "allow", "est-allowed": "allow",
                                       "denied": "deny"}
_IPISH = re.compile(rf"^{_IP}$")


@register
class CiscoAsaParser(LineParser[SyslogClock]):
    """Cisco ASA / FTD ``%ASA-<sev>-<id>`` syslog messages, with or without an envelope."""

    NAME = "cisco-asa"
    DESCRIPTION = "Cisco ASA / Firepower syslog (%ASA-4-106023 ...), deny and permit (R2)"

    def sniff(self, head: bytes, name: str) -> int:
        return _share_score(line_share(head, _SNIFF_ASA), 90)

    def new_state(self, source: SourceFile, ctx: ParseContext) -> SyslogClock:
        return SyslogClock(source, ctx.settings)

    def parse_line(self, line: bytes, offset: int, state: SyslogClock, ctx: ParseContext
                   ) -> Event | None:
        text = line.decode("utf-8", "replace")
        tag = _ASA_TAG.search(text)
        if tag is None:
            raise RecordError("no %ASA-<severity>-<id> tag", kind="not-firewall")
        when, host = parse_header(text[:tag.start()].rstrip(" :"), state)
        if when is None:
            raise RecordError("no timestamp before the %ASA tag", kind="bad-timestamp")
        msgid, severity, msg = tag.group("id"), int(tag.group("sev")), text[tag.end():].strip()
        original: dict[str, Any] = {"message_id": msgid, "severity": severity, "message": msg}
        known = _ASA_MESSAGES.get(msgid)
        m = known[0].search(msg) if known else None
        if known is not None and m is None:
            raise RecordError(f"ASA message {msgid} not in its documented form",
                              kind="bad-record")
        if m is None or known is None:
            fields = decision_fields("unknown")
            fields["event.type"] = ["info"]
        else:
            g = {k: v for k, v in m.groupdict().items() if v is not None}
            original.update(g)
            decision = known[1] or _ASA_DECISIONS[g["act"]]
            fields = decision_fields(decision, *known[2])
            self._normalize(fields, g)
            if msgid == "733100":
                fields.update({"event.kind": "alert", "event.type": ["info", "denied"],
                               "event.category": ["network", "intrusion_detection"],
                               "rule.name": g["rate"]})
                if _IPISH.match(g["object"]):
                    fields["source.ip"] = g["object"]
        _observer(fields, host, "Cisco", tag.group("fac"))
        fields["event.code"] = msgid
        fields["event.severity"] = severity
        fields["log.level"] = _LEVELS[severity]
        return Event(when, "firewall:cisco:asa", fields, original, _ASA_SOURCE,
                     Origin(ctx.source.path, offset, ctx.source.member), msg)

    @staticmethod
    def _normalize(fields: dict[str, Any], g: dict[str, str]) -> None:
        if "aip" in g:
            # Built ... for <lower-security side> to <higher-security side>: the
            # initiator is the first for inbound connections, the second for outbound.
            s, d = ("a", "b") if g["dir"] == "inbound" else ("b", "a")
            g = {**g, **{f"s{k}": g[f"{s}{k}"] for k in ("if", "ip", "port") if f"{s}{k}" in g},
                 **{f"d{k}": g[f"{d}{k}"] for k in ("if", "ip", "port") if f"{d}{k}" in g}}
        _endpoints(fields, g.get("sip"), g.get("sport"), g.get("dip"), g.get("dport"),
                   g.get("proto"))
        if "dir" in g:
            fields["network.direction"] = g["dir"].lower()
        if "sif" in g:
            fields["observer.ingress.interface.name"] = g["sif"]
        if "dif" in g:
            fields["observer.egress.interface.name"] = g["dif"]
        if "acl" in g:
            fields["rule.name"] = g["acl"]
        if "bytes" in g:
            fields["network.bytes"] = int(g["bytes"])
            h, mi, s = g["dur"].split(":")
            fields["event.duration"] = (int(h) * 3600 + int(mi) * 60 + int(s)) * 1_000_000_000
        if "reason" in g:
            fields["event.reason"] = g["reason"]


# --------------------------------------------------------------------------- pfSense

_FILTERLOG = re.compile(
    r"(?:^|\s)filterlog(?:\[(?P<pid>\d+)\])?:\s+"  # BSD: filterlog[1234]: ...
    r"|\sfilterlog (?P<pid5424>\d+|-) \S+ (?:-|\[.*?\]) ?"  # RFC 5424 (pfSense 2.6+)
)
_SNIFF_FILTERLOG = re.compile(rb"\bfilterlog(?:\[\d+\]:| (?:\d+|-) \S+ (?:-|\[))")
_PF_SOURCE = LogSource(product="pfsense", category="firewall")
_PF_HEAD = ("rule_number", "sub_rule_number", "anchor", "tracker", "interface", "reason",
            "action", "direction", "ip_version")
_PF_V4 = ("tos", "ecn", "ttl", "id", "offset", "flags", "protocol_id", "protocol", "length",
          "src", "dst")
_PF_V6 = ("class", "flow_label", "hop_limit", "protocol", "protocol_id", "length", "src",
          "dst")
_PF_TCP = ("src_port", "dst_port", "data_length", "tcp_flags", "sequence_number",
           "ack_number", "tcp_window", "urg", "tcp_options")
_PF_UDP = ("src_port", "dst_port", "data_length")
_PF_DECISIONS: dict[str, Decision] = {"pass": "allow", "block": "deny", "reject": "deny"}
_PF_DIRECTIONS = {"in": ("ingress", "observer.ingress.interface.name"),
                  "out": ("egress", "observer.egress.interface.name")}


@register
class PfsenseFilterlogParser(LineParser[SyslogClock]):
    """pfSense / OPNsense ``filterlog`` CSV lines, BSD or RFC 5424 syslog (R2)."""

    NAME = "pfsense-filterlog"
    DESCRIPTION = "pfSense filterlog CSV (IPv4/IPv6; tcp, udp, icmp) in syslog (R2)"

    def sniff(self, head: bytes, name: str) -> int:
        return _share_score(line_share(head, _SNIFF_FILTERLOG), 90)

    def new_state(self, source: SourceFile, ctx: ParseContext) -> SyslogClock:
        return SyslogClock(source, ctx.settings)

    def parse_line(self, line: bytes, offset: int, state: SyslogClock, ctx: ParseContext
                   ) -> Event | None:
        text = line.decode("utf-8", "replace")
        tag = _FILTERLOG.search(text)
        if tag is None:
            raise RecordError("not a filterlog line", kind="not-firewall")
        csv = text[tag.end():].strip()
        values = csv.split(",")
        if len(values) < len(_PF_HEAD):
            raise RecordError("filterlog line too short", kind="bad-record")
        original: dict[str, Any] = dict(zip(_PF_HEAD, values, strict=False))
        version = original["ip_version"]
        names = _PF_V4 if version == "4" else _PF_V6 if version == "6" else None
        action = original["action"]
        if names is None or action not in _PF_DECISIONS or \
                original["direction"] not in _PF_DIRECTIONS:
            raise RecordError("filterlog line: bad ip version, action or direction",
                              kind="bad-record")
        rest = values[len(_PF_HEAD):]
        if len(rest) < len(names):
            raise RecordError("filterlog line cut short in the IP fields", kind="bad-record")
        original.update(zip(names, rest, strict=False))
        rest = rest[len(names):]
        proto = original["protocol"].lower()
        if proto in ("tcp", "udp"):
            original.update(zip(_PF_TCP if proto == "tcp" else _PF_UDP, rest, strict=False))
        elif proto in ("icmp", "ipv6-icmp", "icmpv6") and rest:
            original["icmp_type"] = rest[0]
            original["icmp_data"] = ",".join(rest[1:])
        when, host = parse_header(text[:tag.start()], state)
        if when is None:
            raise RecordError("no timestamp in the syslog header", kind="bad-timestamp")
        pid = tag.group("pid") or tag.group("pid5424")
        if pid and pid != "-":
            original["pid"] = pid
        fields = decision_fields(_PF_DECISIONS[action])
        _observer(fields, host, "Netgate", "pfSense")
        src, dst = original["src"], original["dst"]
        if not _IPISH.match(src) or not _IPISH.match(dst):
            raise RecordError("filterlog line without valid addresses", kind="bad-record")
        _endpoints(fields, src, original.get("src_port"), dst, original.get("dst_port"),
                   proto)
        fields["network.type"] = "ipv4" if version == "4" else "ipv6"
        direction, iface_field = _PF_DIRECTIONS[original["direction"]]
        fields["network.direction"] = direction
        fields[iface_field] = original["interface"]
        if original["tracker"]:
            fields["rule.id"] = original["tracker"]
        if original.get("length", "").isdigit():
            fields["network.bytes"] = int(original["length"])
        return Event(when, "firewall:pfsense:filterlog", fields, original, _PF_SOURCE,
                     Origin(ctx.source.path, offset, ctx.source.member), csv)
