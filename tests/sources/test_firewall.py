"""Boundary firewall logs (R2): netfilter LOG lines, Cisco ASA, pfSense filterlog.

Every firewall event must say deny or allow explicitly (``kizuki.firewall.decision``,
``event.action``, ``event.type``), since deny logs are what R2 asks for first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kizuki.model import Event, LogSource
from kizuki.sources import ParseContext, SourceFile, SourceSettings, registry
from kizuki.sources.base import ParseWarning
from kizuki.sources.firewall import IptablesParser, SyslogClock, decide, parse_header

from ..conftest import DATA, assert_not_sniffed_outside, offset_of, read_all

FW = DATA / "firewall"
Y2024 = SourceSettings(year=2024)
MINE = {"iptables", "cisco-asa", "pfsense-filterlog"}


def by_time(events: list[Event], iso: str) -> Event:
    found = [e for e in events if e.timestamp.isoformat() == iso]
    assert len(found) == 1, iso
    return found[0]


def decision(event: Event) -> tuple[Any, Any, Any, Any]:
    f = event.fields
    return (f["kizuki.firewall.decision"], f.get("event.action"), f["event.type"],
            f["event.outcome"])


DENY = ("deny", "denied", ["connection", "denied"], "failure")
ALLOW = ("allow", "allowed", ["connection", "allowed"], "success")
UNKNOWN = ("unknown", None, ["connection"], "unknown")


# --------------------------------------------------------------------------- netfilter

def test_iptables_kern_log_full_event() -> None:
    events, reader, warnings = read_all(FW / "kern.log", settings=Y2024)
    assert len(events) == 12 and len(warnings) == 1
    assert reader.stats.files[0].format == "iptables"
    first = events[0]
    assert first.fields == {
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection", "denied"],
        "event.outcome": "failure",
        "event.action": "denied",
        "kizuki.firewall.decision": "deny",
        "observer.type": "firewall",
        "observer.vendor": "Linux",
        "observer.product": "netfilter",
        "observer.name": "gw01",
        "host.name": "gw01",
        "rule.name": "DROP-OUT",
        "source.ip": "10.20.30.41",
        "source.port": 49713,
        "source.mac": "52-54-00-65-43-21",
        "destination.ip": "203.0.113.66",
        "destination.port": 443,
        "destination.mac": "52-54-00-12-34-56",
        "network.type": "ipv4",
        "network.transport": "tcp",
        "observer.ingress.interface.name": "eth1",
        "observer.egress.interface.name": "eth0",
    }
    assert first.timestamp == datetime(2024, 3, 3, 16, 2, 3, tzinfo=UTC)  # 01:02:03 JST
    assert first.data_type == "firewall:iptables:line"
    assert first.logsource == LogSource(product="linux", category="firewall")
    assert first.origin.offset == 0 and first.origin.path.endswith("kern.log")
    assert first.original["PROTO"] == "TCP" and first.original["SYN"] is True
    assert first.original["prefix"] == "DROP-OUT:"
    assert first.message is not None and first.message.startswith("DROP-OUT: IN=eth1")


def test_iptables_prefix_decides() -> None:
    events, _, _ = read_all(FW / "kern.log", settings=Y2024)
    got = {e.fields["rule.name"]: decision(e) for e in events}
    assert got["UFW BLOCK"] == DENY
    assert got["UFW ALLOW"] == ALLOW
    assert got["UFW AUDIT"] == UNKNOWN  # no keyword: never a guess
    assert got["nft-drop"] == DENY
    assert got["FINAL_REJECT"] == DENY
    assert got["ACCEPT-FWD"] == ALLOW
    assert got["OUT-ALLOW"] == ALLOW
    assert "event.action" not in by_time(events, "2024-03-03T16:02:07+00:00").fields


def test_iptables_broken_line_is_a_warning_and_neighbours_stay() -> None:
    path = FW / "kern.log"
    events, reader, warnings = read_all(path, settings=Y2024)
    bad = offset_of(path, "Mar  4 01:02:09 gw01")
    assert len(warnings) == 1
    warning = warnings[0]
    assert isinstance(warning, ParseWarning)
    assert warning.offset == bad and warning.kind == "bad-record"
    assert warning.raw is not None and warning.raw.endswith("MAC=52:54:00:12:34:")
    assert reader.stats.files[0].warnings == 1
    before = by_time(events, "2024-03-03T16:02:08+00:00")
    after = by_time(events, "2024-03-03T16:02:10+00:00")
    assert before.origin.offset is not None and before.origin.offset < bad
    assert after.origin.offset == offset_of(path, "Mar  4 01:02:10 gw01")
    assert after.fields["network.transport"] == "udp" and after.fields["destination.port"] == 53


def test_iptables_directions_ipv6_icmp_and_uid() -> None:
    events, _, _ = read_all(FW / "kern.log", settings=Y2024)
    inbound = by_time(events, "2024-03-03T16:02:05+00:00")  # IN= only
    assert inbound.fields["network.direction"] == "ingress"
    forwarded = events[0]  # IN= and OUT=: no direction from one line
    assert "network.direction" not in forwarded.fields
    local_out = by_time(events, "2024-03-03T16:02:14+00:00")
    assert local_out.fields["network.direction"] == "egress"
    assert local_out.fields["user.id"] == "33"
    assert "source.mac" not in local_out.fields  # OUTPUT chain: no MAC
    v6 = by_time(events, "2024-03-03T16:02:13+00:00")
    assert v6.fields["source.ip"] == "fe80::5054:ff:feab:cdef"
    assert v6.fields["destination.ip"] == "ff02::fb"
    assert v6.fields["network.type"] == "ipv6"
    assert v6.original["SRC"] == "fe80:0000:0000:0000:5054:00ff:feab:cdef"
    icmp_error = by_time(events, "2024-03-03T16:02:12+00:00")
    # The packet quoted inside the ICMP error must not overwrite the outer one.
    assert icmp_error.fields["source.ip"] == "192.0.2.254"
    assert icmp_error.fields["network.transport"] == "icmp"
    assert icmp_error.original["TYPE"] == "3" and "SPT" not in icmp_error.original
    assert decision(icmp_error) == DENY


def test_iptables_journal_iso_timestamps() -> None:
    events, reader, warnings = read_all(FW / "iptables-journal.log")
    assert not warnings and len(events) == 4
    assert reader.stats.files[0].format == "iptables"
    assert [e.timestamp.isoformat() for e in events] == [
        "2024-03-03T16:10:00.123456+00:00",
        "2024-03-03T16:10:05+00:00",  # +0900 without a colon (journalctl -o short-iso)
        "2024-03-03T16:10:09.000001+00:00",
        "2024-03-03T16:10:12.500000+00:00",
    ]
    assert [decision(e)[0] for e in events] == ["deny", "allow", "deny", "allow"]
    assert all(e.fields["observer.name"] == "fw02" for e in events)
    assert events[0].fields["destination.port"] == 4444


def parse_bytes(parser: Any, data: bytes, settings: SourceSettings = Y2024,
                mtime: datetime | None = None) -> tuple[list[Event], list[ParseWarning]]:
    source = SourceFile.from_bytes("sample.log", data)
    source.mtime = mtime
    warnings: list[ParseWarning] = []
    ctx = ParseContext(source, settings, warnings.append)
    return list(parser.parse(source, ctx)), warnings


def test_iptables_keyword_table_is_configurable() -> None:
    line = (b"Mar  4 01:02:07 web01 kernel: [ 8125.000001] [UFW AUDIT] IN=eth0 OUT= "
            b"SRC=192.0.2.1 DST=192.0.2.10 LEN=76 PROTO=UDP SPT=123 DPT=123 LEN=56\n")
    default, _ = parse_bytes(IptablesParser(), line)
    assert decision(default[0]) == UNKNOWN
    custom, _ = parse_bytes(IptablesParser(keywords={"AUDIT": "allow"}), line)
    assert decision(custom[0]) == ALLOW
    assert decide("Shorewall:net-fw:DROP:") == "deny"
    assert decide("dropbox-sync") == "unknown"  # whole words only


def test_iptables_skips_other_kernel_lines_with_a_warning() -> None:
    data = (b"Mar  4 01:04:00 fw01 kernel: [12400.000000] e1000e: eth0 NIC Link is Up\n"
            b"Mar  4 01:04:01 fw01 kernel: DROP IN=eth0 OUT= SRC=198.51.100.1 "
            b"DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2\n")
    events, warnings = parse_bytes(IptablesParser(), data)
    assert len(events) == 1 and events[0].origin.offset == data.index(b"Mar  4 01:04:01")
    assert [(w.offset, w.kind) for w in warnings] == [(0, "not-firewall")]


def test_rfc3164_year_follows_the_syslog_rule() -> None:
    data = (b"Dec 31 23:59:59 fw01 kernel: DROP IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 "
            b"LEN=40 PROTO=TCP SPT=1 DPT=2\n"
            b"Jan  1 00:00:01 fw01 kernel: DROP IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 "
            b"LEN=40 PROTO=TCP SPT=1 DPT=2\n")
    # A file last written in January 2025: December is the year before.
    events, _ = parse_bytes(IptablesParser(), data, SourceSettings(),
                            mtime=datetime(2025, 1, 2, tzinfo=UTC))
    assert [e.timestamp.isoformat() for e in events] == [
        "2024-12-31T14:59:59+00:00", "2024-12-31T15:00:01+00:00"]
    # The configured zone is used for naive times.
    events, _ = parse_bytes(IptablesParser(), data, SourceSettings("UTC", 2030))
    assert events[0].timestamp == datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_parse_header_forms() -> None:
    clock = SyslogClock(SourceFile.from_bytes("x", b""), SourceSettings("UTC", 2024))
    ts = datetime(2024, 3, 4, 1, 2, 3, tzinfo=UTC)
    assert parse_header("<134>Mar  4 01:02:03 fw01", clock) == (ts, "fw01")
    assert parse_header("<134>1 2024-03-04T01:02:03Z fw01 app 12 - -", clock) == (ts, "fw01")
    assert parse_header("Mar 04 2024 01:02:03", clock) == (ts, None)
    # A relay's stamp and the device's own: the one with a year wins, the first host too.
    assert parse_header("Mar  9 09:09:09 relay Mar 04 2024 01:02:03 asa01", clock) == (
        ts, "relay")
    assert parse_header("", clock) == (None, None)


# --------------------------------------------------------------------------- Cisco ASA

def test_asa_counts_and_full_event() -> None:
    path = FW / "asa.log"
    events, reader, warnings = read_all(path, settings=Y2024)
    assert len(events) == 18 and len(warnings) == 1
    assert reader.stats.files[0].format == "cisco-asa"
    out = events[1]  # an inside host denied on its way out: what R2 is about
    assert out.fields == {
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection", "denied"],
        "event.outcome": "failure",
        "event.action": "denied",
        "kizuki.firewall.decision": "deny",
        "event.code": "106023",
        "event.severity": 4,
        "log.level": "warning",
        "observer.type": "firewall",
        "observer.vendor": "Cisco",
        "observer.product": "ASA",
        "observer.name": "asa01",
        "rule.name": "inside_access_in",
        "source.ip": "10.20.30.41",
        "source.port": 49713,
        "destination.ip": "203.0.113.66",
        "destination.port": 443,
        "network.type": "ipv4",
        "network.transport": "tcp",
        "observer.ingress.interface.name": "inside",
        "observer.egress.interface.name": "outside",
    }
    assert out.timestamp == datetime(2024, 3, 3, 16, 2, 4, tzinfo=UTC)
    assert out.logsource == LogSource(product="cisco", service="asa", category="firewall")
    assert out.data_type == "firewall:cisco:asa"
    assert out.original["message_id"] == "106023" and out.original["acl"] == "inside_access_in"
    assert out.origin.offset == offset_of(path, "Mar  4 01:02:04 asa01")
    # No host in the header (no "logging device-id"): the ASA's own stamp, no observer.name.
    assert "observer.name" not in events[0].fields
    assert events[0].timestamp == datetime(2024, 3, 3, 16, 2, 3, tzinfo=UTC)


def test_asa_broken_line_is_a_warning_and_neighbours_stay() -> None:
    path = FW / "asa.log"
    events, _, warnings = read_all(path, settings=Y2024)
    (warning,) = warnings
    assert isinstance(warning, ParseWarning)
    assert warning.offset == offset_of(path, "<164>Mar 04 2024 01:02:06:")
    assert warning.kind == "bad-record"
    codes = [e.fields["event.code"] for e in events]
    assert codes[5:7] == ["302015", "106001"]  # the lines around the broken one


def test_asa_messages() -> None:
    events, _, _ = read_all(FW / "asa.log", settings=Y2024)
    by_code: dict[str, list[Event]] = {}
    for e in events:
        by_code.setdefault(e.fields["event.code"], []).append(e)
    icmp = by_code["106023"][2]
    assert icmp.fields["network.transport"] == "icmp" and "source.port" not in icmp.fields
    built = by_code["302013"][0]  # outbound: the inside host (the "to" side) started it
    assert decision(built) == ("allow", "allowed", ["connection", "allowed", "start"],
                               "success")
    assert (built.fields["source.ip"], built.fields["destination.ip"]) == (
        "10.20.30.41", "93.184.216.34")
    assert built.fields["network.direction"] == "outbound"
    assert built.fields["observer.ingress.interface.name"] == "inside"
    inbound = by_code["302015"][0]
    assert inbound.fields["source.ip"] == "198.51.100.53"
    assert inbound.fields["network.transport"] == "udp"
    teardown = by_code["302014"][0]
    assert teardown.fields["event.type"] == ["connection", "allowed", "end"]
    assert teardown.fields["network.bytes"] == 5123
    assert teardown.fields["event.duration"] == 31_000_000_000
    assert teardown.fields["event.reason"] == "TCP FINs"
    assert decision(by_code["106001"][0]) == DENY
    assert by_code["106001"][0].fields["network.direction"] == "inbound"
    assert by_code["106006"][0].fields["observer.ingress.interface.name"] == "outside"
    assert decision(by_code["106007"][0]) == DENY
    permitted, denied = by_code["106100"]
    assert decision(permitted) == ALLOW and permitted.fields["rule.name"] == "inside_access_in"
    assert permitted.fields["destination.port"] == 80
    assert decision(denied) == DENY and denied.fields["source.port"] == 5060
    scanning, host = by_code["733100"]
    assert scanning.fields["event.kind"] == "alert"
    assert "intrusion_detection" in scanning.fields["event.category"]
    assert scanning.fields["kizuki.firewall.decision"] == "deny"
    assert host.fields["source.ip"] == "198.51.100.77"
    assert decision(by_code["419002"][0]) == DENY
    acl = by_code["710003"][0]
    assert decision(acl) == DENY and acl.fields["destination.port"] == 22
    assert acl.fields["observer.egress.interface.name"] == "outside"
    other = by_code["111008"][0]  # not a connection message: kept, decision unknown
    assert other.fields["kizuki.firewall.decision"] == "unknown"
    assert other.fields["event.type"] == ["info"] and other.fields["log.level"] == "notification"
    assert other.message == "User 'admin' executed the 'write memory' command."
    iso, v6 = by_code["106023"][3:]
    assert iso.timestamp == datetime(2024, 3, 3, 16, 3, tzinfo=UTC)
    assert v6.fields["source.ip"] == "2001:db8:1::7" and v6.fields["source.port"] == 443
    assert v6.fields["network.type"] == "ipv6"


# --------------------------------------------------------------------------- pfSense

def test_pfsense_counts_and_full_event() -> None:
    path = FW / "filterlog.log"
    events, reader, warnings = read_all(path, settings=Y2024)
    assert len(events) == 8 and len(warnings) == 1
    assert reader.stats.files[0].format == "pfsense-filterlog"
    blocked = events[0]
    assert blocked.fields == {
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection", "denied"],
        "event.outcome": "failure",
        "event.action": "denied",
        "kizuki.firewall.decision": "deny",
        "observer.type": "firewall",
        "observer.vendor": "Netgate",
        "observer.product": "pfSense",
        "source.ip": "198.51.100.23",
        "source.port": 51234,
        "destination.ip": "192.0.2.10",
        "destination.port": 445,
        "network.type": "ipv4",
        "network.transport": "tcp",
        "network.direction": "ingress",
        "network.bytes": 44,
        "observer.ingress.interface.name": "igb1",
        "rule.id": "1000000103",
    }
    assert blocked.timestamp == datetime(2024, 3, 3, 16, 2, 3, tzinfo=UTC)
    assert blocked.logsource == LogSource(product="pfsense", category="firewall")
    assert blocked.data_type == "firewall:pfsense:filterlog"
    assert blocked.original["tcp_flags"] == "S" and blocked.original["pid"] == "41523"
    assert blocked.original["tcp_options"] == "mss"
    assert blocked.message is not None and blocked.message.startswith("5,,,1000000103,igb1")


def test_pfsense_variants() -> None:
    path = FW / "filterlog.log"
    events, _, warnings = read_all(path, settings=Y2024)
    (warning,) = warnings
    assert isinstance(warning, ParseWarning)
    assert warning.offset == offset_of(path, "<134>1 2024-03-04T01:02:08")
    passed = events[1]  # RFC 5424 (pfSense 2.6+), outbound pass
    assert decision(passed) == ALLOW
    assert passed.fields["observer.name"] == "pfsense.example.lan"
    assert passed.fields["network.direction"] == "egress"
    assert passed.fields["observer.egress.interface.name"] == "igb0"
    assert passed.timestamp == datetime(2024, 3, 3, 16, 2, 5, 412345, tzinfo=UTC)
    udp = events[2]
    assert udp.fields["network.transport"] == "udp" and udp.fields["destination.port"] == 53
    icmp = events[3]
    assert icmp.original["icmp_type"] == "request" and "source.port" not in icmp.fields
    v6 = events[4]  # the neighbour after the broken line
    assert v6.fields["network.type"] == "ipv6" and v6.fields["source.ip"] == "2001:db8:ffff::23"
    assert v6.original["hop_limit"] == "57" and v6.fields["destination.port"] == 22
    reject = events[5]
    assert decision(reject) == DENY and reject.original["action"] == "reject"
    assert events[7].fields["observer.name"] == "pfsense"


# --------------------------------------------------------------------------- sniffing

@pytest.mark.parametrize(("name", "fmt"), [
    ("kern.log", "iptables"), ("iptables-journal.log", "iptables"),
    ("asa.log", "cisco-asa"), ("filterlog.log", "pfsense-filterlog"),
])
def test_reader_picks_the_firewall_parsers(name: str, fmt: str) -> None:
    parser, score = registry.sniff((FW / name).read_bytes()[:65536], name)
    assert parser is not None and parser.NAME == fmt and score >= 85


def test_firewall_parsers_leave_other_samples_alone() -> None:
    assert_not_sniffed_outside("firewall", MINE)


def test_syslog_with_a_few_firewall_lines_stays_syslog() -> None:
    lines = [b"Mar  4 01:00:%02d host sshd[1]: Accepted publickey for alice from 10.0.0.1 "
             b"port 5000 ssh2" % i for i in range(9)]
    lines.append(b"Mar  4 01:00:10 host kernel: DROP IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 "
                 b"PROTO=TCP SPT=1 DPT=2")
    parser, _ = registry.sniff(b"\n".join(lines) + b"\n", "syslog")
    assert parser is None or parser.NAME not in MINE
