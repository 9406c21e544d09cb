"""CEF and LEEF from security products (R4) and firewalls (R2), bare or in syslog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kizuki.model import Event, LogSource
from kizuki.sources import ParseContext, SourceFile, SourceSettings, registry
from kizuki.sources.base import ParseWarning
from kizuki.sources.cef import CefParser, LeefParser, parse_extension, parse_time
from kizuki.sources.firewall import SyslogClock

from ..conftest import DATA, assert_not_sniffed_outside, offset_of, read_all

CEF_DIR = DATA / "cef"
Y2024 = SourceSettings(year=2024)
MINE = {"cef", "leef"}


def parse_bytes(data: bytes, mtime: datetime | None = None
                ) -> tuple[list[Event], list[ParseWarning]]:
    source = SourceFile.from_bytes("sample.cef", data)
    source.mtime = mtime
    warnings: list[ParseWarning] = []
    events = list(CefParser().parse(source, ParseContext(source, Y2024, warnings.append)))
    return events, warnings


# --------------------------------------------------------------------------- CEF

def test_cef_counts_and_full_event_with_tricky_escapes() -> None:
    path = CEF_DIR / "cef.log"
    events, reader, warnings = read_all(path, settings=Y2024)
    assert len(events) == 8 and len(warnings) == 1
    assert reader.stats.files[0].format == "cef"
    sensor = events[1]
    assert sensor.fields == {
        "event.code": "EXP-1001",
        "event.kind": "alert",
        "event.category": ["intrusion_detection"],
        "event.severity": 8,
        "event.action": "alert",
        "observer.vendor": "Acme|Labs",  # \| in the header
        "observer.product": "Threat Sensor",
        "observer.version": "2.1",
        "observer.serial_number": "TS-0042",
        "rule.name": "Exploit attempt: cmd\\shell | pipe",  # \\ and \| in the header
        "source.ip": "10.20.30.41",
        "source.port": 49800,
        "destination.ip": "203.0.113.66",
        "destination.port": 8080,
        "network.transport": "tcp",
        "url.original": "http://203.0.113.66:8080/cgi-bin/q?a=1&b=2",  # \= in a value
        "http.request.method": "GET",
        "source.user.name": "CORP\\alice",
        "user.name": "CORP\\alice",
        "labels.Policy_Name": "Default Policy",  # a value with a space
        "labels.ATT_CK_Technique": "T1190",
    }
    assert sensor.message == "line one\nline two with  spaces\r"  # \n, \r, inner spaces
    assert sensor.timestamp == datetime(2024, 3, 3, 16, 20, 11, tzinfo=UTC)  # rt, epoch ms
    assert sensor.logsource == LogSource(product="acme_labs", service="threat_sensor")
    assert sensor.data_type == "cef:record"
    assert sensor.original["deviceVendor"] == "Acme|Labs"
    assert sensor.original["cs1Label"] == "Policy Name" and sensor.original["cs1"] == (
        "Default Policy")
    assert sensor.original["severity"] == "8" and sensor.original["version"] == "0"
    assert sensor.origin.offset == offset_of(path, "CEF:0|Acme")


def test_cef_broken_line_is_a_warning_and_neighbours_stay() -> None:
    path = CEF_DIR / "cef.log"
    events, _, warnings = read_all(path, settings=Y2024)
    (warning,) = warnings
    assert isinstance(warning, ParseWarning)
    assert warning.offset == offset_of(path, "CEF:0|Broken Vendor")
    assert warning.kind == "bad-header" and warning.raw == "CEF:0|Broken Vendor|Truncated"
    products = [e.fields["observer.product"] for e in events]
    assert products[4:6] == ["ePolicy Orchestrator", "EDR Sensor"]


def test_cef_antivirus_alerts() -> None:
    events, _, _ = read_all(CEF_DIR / "cef.log", settings=Y2024)
    trend, epo = events[0], events[4]
    # Name is the signature; act=Quarantine from an endpoint product: a malware alert.
    assert trend.logsource == LogSource("trend_micro", "deep_security_agent", "antivirus")
    assert trend.fields["event.kind"] == "alert"
    assert trend.fields["event.category"] == ["malware"]
    assert trend.fields["rule.name"] == "Eicar_test_file"
    assert trend.fields["file.path"] == "C:\\Users\\alice\\Downloads\\eicar.com"
    assert trend.fields["observer.hostname"] == "pc-0412.corp.example.local"  # dvchost
    assert trend.fields["labels.Host_ID"] == "1"
    assert trend.original["TrendMicroDsFileMD5"] == "44D88612FEA8A8F36DE82E1278ABB02F"
    assert trend.timestamp == datetime(2024, 3, 3, 16, 20, 11, tzinfo=UTC)  # syslog header
    assert epo.logsource.category == "antivirus"
    assert epo.fields["event.severity"] == 8  # "High"
    assert epo.fields["user.name"] == "CORP\\bob"  # duser when there is no suser
    assert epo.fields["destination.user.name"] == "CORP\\bob"
    assert epo.fields["destination.domain"] == "pc-0413"
    assert epo.fields["file.name"] == "invoice.pdf.exe"
    assert epo.fields["labels.Threat_Name"] == "Generic.dx!1A2B3C4D"
    assert epo.timestamp == datetime(2024, 3, 3, 16, 22, 33, tzinfo=UTC)  # rt read in dtz
    worm = events[7]
    assert worm.logsource.category == "antivirus" and worm.fields["event.severity"] == 10
    assert worm.timestamp == datetime(2024, 3, 4, 1, 27, 0, 125000, tzinfo=UTC)


def test_cef_firewall_records_carry_the_decision() -> None:
    events, _, _ = read_all(CEF_DIR / "cef.log", settings=Y2024)
    deny, allow = events[2], events[3]
    for event, expected in ((deny, "deny"), (allow, "allow")):
        assert event.logsource == LogSource("fortinet", "fortigate", "firewall")
        assert event.fields["kizuki.firewall.decision"] == expected
        assert event.fields["event.action"] == {"deny": "denied", "allow": "allowed"}[expected]
        assert event.fields["event.category"] == ["network"]
        assert event.fields["observer.type"] == "firewall"
        assert event.fields["observer.name"] == "fgt01"
        assert event.fields["network.transport"] == "tcp"  # proto=6
        assert event.fields["observer.ingress.interface.name"] == "internal"
        assert event.fields["observer.egress.interface.name"] == "wan1"
    assert deny.fields["event.type"] == ["connection", "denied"]
    assert deny.fields["event.outcome"] == "failure"
    assert deny.original["act"] == "deny" and deny.fields["destination.port"] == 4444
    assert allow.fields["event.type"] == ["connection", "allowed"]
    assert allow.fields["source.bytes"] == 48211 and allow.fields["destination.bytes"] == 5123


def test_cef_times_and_other_records() -> None:
    events, _, _ = read_all(CEF_DIR / "cef.log", settings=Y2024)
    edr = events[5]  # RFC 5424 envelope, CEF:1, no rt
    assert edr.timestamp == datetime(2024, 3, 4, 1, 25, tzinfo=UTC)
    assert edr.original["version"] == "1"
    assert edr.fields["event.start"] == "2024-03-04T01:24:59.000000Z"  # epoch ms
    assert edr.fields["event.end"] == "2024-03-04T01:24:59.000000Z"  # MMM dd yyyy … JST
    assert edr.fields["observer.hostname"] == "relay01"
    assert (edr.fields["process.name"], edr.fields["process.pid"]) == ("powershell.exe", 4412)
    assert edr.fields["event.outcome"] == "success" and edr.fields["event.kind"] == "alert"
    vault = events[6]
    assert vault.fields["event.kind"] == "event"
    assert vault.fields["event.category"] == ["authentication"]
    assert vault.fields["event.outcome"] == "failure"
    assert vault.fields["user.name"] == "PasswordManager"
    assert vault.fields["observer.ip"] == "10.60.0.5"
    assert vault.fields["event.reason"] == "Invalid credentials"
    assert "kizuki.firewall.decision" not in vault.fields


def test_cef_without_any_time() -> None:
    line = b"CEF:0|V|P|1|1|N|3|src=10.0.0.1\n"
    events, warnings = parse_bytes(line)
    assert not events and [(w.offset, w.kind) for w in warnings] == [(0, "bad-timestamp")]
    mtime = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    events, warnings = parse_bytes(line, mtime=mtime)
    assert not warnings and events[0].timestamp == mtime
    assert events[0].tags == ("timestamp-from-file",)


@pytest.mark.parametrize(("ext", "expected"), [
    ("a=1 b=two words c=3", {"a": "1", "b": "two words", "c": "3"}),
    (r"msg=a\=b c\\d e\nf\rg", {"msg": "a=b c\\d e\nf\rg"}),
    (r"filePath=C:\Windows\system32\cmd.exe", {"filePath": r"C:\Windows\system32\cmd.exe"}),
    ("request=http://x/?q=a|b act=", {"request": "http://x/?q=a|b", "act": ""}),
    ("cs1=x=y", {"cs1": "x=y"}),
    ("", {}),
])
def test_parse_extension(ext: str, expected: dict[str, str]) -> None:
    assert parse_extension(ext) == expected


_KEYS = st.sampled_from(["src", "dst", "msg", "cs1", "cs1Label", "request", "fname"])
_VALUES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30).filter(
    lambda v: not v.endswith(" "))


def _escape(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r"))


@given(st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_extension_round_trip(pairs: dict[str, str]) -> None:
    ext = " ".join(f"{k}={_escape(v)}" for k, v in pairs.items())
    assert parse_extension(ext) == pairs


def test_parse_time_forms() -> None:
    clock = SyslogClock(SourceFile.from_bytes("x", b""), SourceSettings("Asia/Tokyo", 2024))
    utc = datetime(2024, 3, 4, 1, 2, 3, tzinfo=UTC)
    assert parse_time("1709514123000", clock) == utc
    assert parse_time("1709514123", clock) == utc
    assert parse_time("Mar 04 2024 10:02:03", clock) == utc  # local (Asia/Tokyo)
    assert parse_time("Mar 04 2024 01:02:03 UTC", clock) == utc
    assert parse_time("Mar 04 2024 03:02:03 GMT+02:00", clock) == utc
    assert parse_time("Mar  4 10:02:03", clock) == utc  # no year: the syslog rule
    assert parse_time("2024-03-04T01:02:03Z", clock) == utc
    assert parse_time("Mar 04 2024 02:02:03", clock, timezone(timedelta(hours=1))) == utc
    assert parse_time("04/03/2024 10:02:03", clock, java_format="dd/MM/yyyy HH:mm:ss") == utc


# --------------------------------------------------------------------------- LEEF

def test_leef_counts_and_full_event() -> None:
    path = CEF_DIR / "leef.log"
    events, reader, warnings = read_all(path, settings=Y2024)
    assert len(events) == 6 and len(warnings) == 1
    assert reader.stats.files[0].format == "leef"
    drop = events[3]  # Check Point, LEEF 1.0, tab-separated
    assert drop.fields == {
        "event.code": "Drop",
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection", "denied"],
        "event.outcome": "failure",
        "event.action": "denied",
        "kizuki.firewall.decision": "deny",
        "observer.vendor": "Check Point",
        "observer.product": "VPN-1 & FireWall-1",
        "observer.version": "R81.20",
        "observer.hostname": "cpmgmt",
        "observer.name": "cpmgmt",
        "observer.type": "firewall",
        "source.ip": "10.20.30.41",
        "source.port": 49901,
        "destination.ip": "203.0.113.66",
        "destination.port": 8443,
        "network.transport": "tcp",
    }
    assert drop.timestamp == datetime(2024, 3, 3, 16, 33, tzinfo=UTC)  # devTime, local
    assert drop.logsource == LogSource("check_point", "vpn_1_firewall_1", "firewall")
    assert drop.data_type == "leef:record"
    assert drop.original["action"] == "Drop" and drop.original["rule_name"] == "Cleanup rule"
    assert drop.message is None  # LEEF has no Name and this record no msg
    assert drop.origin.offset == offset_of(path, "<14>Mar  4 01:33:00 cpmgmt")
    accept = events[4]  # the neighbour after the broken line
    assert accept.fields["kizuki.firewall.decision"] == "allow"
    assert accept.fields["event.action"] == "allowed"


def test_leef_broken_line_and_delimiters() -> None:
    path = CEF_DIR / "leef.log"
    events, _, warnings = read_all(path, settings=Y2024)
    (warning,) = warnings
    assert isinstance(warning, ParseWarning)
    assert warning.offset == offset_of(path, "LEEF:2.0|Lancope|StealthWatch\n")
    assert warning.kind == "bad-header"
    tab, caret, hexed = events[:3]
    for event, ip in ((tab, "192.0.2.44"), (caret, "192.0.2.45"), (hexed, "192.0.2.46")):
        assert event.fields["source.ip"] == ip
    assert tab.original["version"] == "1.0" and tab.fields["user.name"] == "joe.black"
    assert tab.fields["source.port"] == 81 and tab.fields["event.severity"] == 5
    assert tab.timestamp == datetime(2024, 3, 3, 16, 30, tzinfo=UTC)
    assert caret.timestamp == datetime(2024, 3, 3, 16, 31, tzinfo=UTC)  # devTime epoch ms
    assert caret.original["devTime"] == "1709483460000"
    # devTimeFormat (Java pattern) with an offset.
    assert hexed.timestamp == datetime(2024, 3, 3, 16, 32, 10, 123000, tzinfo=UTC)
    assert hexed.original["cat"] == "scan detected"
    sophos = events[5]
    assert sophos.logsource == LogSource("sophos", "central", "antivirus")
    assert sophos.fields["rule.name"] == "Troj/Agent-BDKZ"
    assert sophos.fields["file.path"] == "C:\\Users\\carol\\AppData\\Roaming\\upd.exe"
    assert sophos.fields["source.domain"] == "pc-0415"
    assert sophos.timestamp == datetime(2024, 3, 4, 1, 35, tzinfo=UTC)


def test_both_parsers_read_both_formats() -> None:
    data = (CEF_DIR / "cef.log").read_bytes() + (CEF_DIR / "leef.log").read_bytes()
    source = SourceFile.from_bytes("mixed.log", data)
    for parser in (CefParser(), LeefParser()):
        warnings: list[ParseWarning] = []
        events = list(parser.parse(source, ParseContext(source, Y2024, warnings.append)))
        assert len(events) == 14 and len(warnings) == 2


# --------------------------------------------------------------------------- sniffing

@pytest.mark.parametrize(("name", "fmt"), [("cef.log", "cef"), ("leef.log", "leef")])
def test_reader_picks_cef_and_leef(name: str, fmt: str) -> None:
    parser, score = registry.sniff((CEF_DIR / name).read_bytes()[:65536], name)
    assert parser is not None and parser.NAME == fmt and score >= 85


def test_cef_parsers_leave_other_samples_alone() -> None:
    assert_not_sniffed_outside("cef", MINE)
