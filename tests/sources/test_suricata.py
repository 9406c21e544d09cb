"""Suricata EVE JSON (R1): alerts, flows, DNS v1/v2/v3, http, tls, fileinfo."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kizuki.model import LogSource
from kizuki.sources import SourceFile, registry
from kizuki.sources.base import ParseWarning
from kizuki.sources.suricata import SuricataEveParser

from ..conftest import DATA, assert_not_sniffed_outside, read_all

EVE = DATA / "suricata" / "eve.json"


def test_counts_and_stats_are_skipped() -> None:
    events, reader, warnings = read_all(EVE)
    assert not warnings
    assert reader.stats.files[0].format == "suricata-eve"
    # 12 lines, one of them engine stats.
    assert len(events) == 11
    assert Counter(e.logsource.service for e in events) == {
        "dns": 4, "http": 1, "alert": 2, "fileinfo": 1, "tls": 1, "anomaly": 1, "flow": 1}


def test_alert_full_event() -> None:
    events, _, _ = read_all(EVE)
    alert = events[3]
    # +0900 in the record, exact UTC in the event.
    assert alert.timestamp == datetime(2024, 3, 4, 1, 15, 2, 11542, tzinfo=UTC)
    assert alert.data_type == "suricata:eve:alert"
    assert alert.logsource == LogSource("suricata", "alert", "ids")
    assert alert.message == "ET POLICY PE EXE or DLL Windows file download HTTP"
    assert alert.fields == {
        "event.kind": "alert",
        "event.module": "suricata",
        "event.dataset": "suricata.alert",
        "event.category": ["network", "intrusion_detection"],
        "event.type": ["allowed"],
        "event.action": "allowed",
        "event.severity": 1,
        "event.start": "2024-03-04T01:15:01.987310Z",
        "observer.product": "suricata",
        "observer.vendor": "OISF",
        "observer.type": "ids",
        "observer.ingress.interface.name": "eth1",
        "rule.name": "ET POLICY PE EXE or DLL Windows file download HTTP",
        "rule.id": "2018959",
        "rule.version": "4",
        "rule.category": "Potential Corporate Privacy Violation",
        "rule.ruleset": "1",
        "source.ip": "203.0.113.80",
        "source.port": 80,
        "destination.ip": "10.10.20.31",
        "destination.port": 50241,
        # The alerting packet went server → client: the flow's to-server counters
        # belong to the alert's destination.
        "source.bytes": 76455,
        "source.packets": 56,
        "destination.bytes": 528,
        "destination.packets": 5,
        "network.transport": "tcp",
        "network.protocol": "http",
        "network.community_id": "1:x8bcJ3kN7P4m5w2cD1GgQe1Ta0s=",
        # From the http object the alert carries.
        "url.domain": "update.example-cdn.top",
        "url.original": "/a/b.exe?id=7",
        "url.path": "/a/b.exe",
        "url.query": "id=7",
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "http.response.body.bytes": 73802,
        "http.response.mime_type": "application/x-msdownload",
        "http.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    }
    assert alert.original["alert.signature_id"] == 2018959
    assert alert.original["alert.metadata.former_category"] == ["POLICY"]
    assert alert.original["files"][0]["filename"] == "/a/b.exe"
    assert alert.origin.offset == EVE.read_bytes().index(b'{"timestamp":"2024-03-04T10:15:02.0115'
                                                         b'42+0900","flow_id":2103348817391620,'
                                                         b'"in_iface":"eth1","event_type":"alert"')


def test_blocked_alert_and_tls() -> None:
    events, _, _ = read_all(EVE)
    blocked = events[6]
    assert blocked.fields["event.type"] == ["denied"]
    assert blocked.fields["event.action"] == "blocked"
    assert blocked.fields["tls.client.server_name"] == "cdn-sync.example.net"
    assert blocked.fields["tls.client.ja3"] == "72a589da586844d7f0818ce684948eea"
    assert blocked.fields["source.bytes"] == 711  # to_server: counters as they are
    tls = events[5]
    assert tls.fields["tls.version"] == "1.2" and tls.fields["tls.version_protocol"] == "tls"
    assert tls.fields["tls.server.subject"] == "CN=cdn-sync.example.net"
    assert tls.fields["tls.server.not_after"] == "2024-05-10T03:12:43.000000Z"
    assert tls.fields["tls.server.hash.sha1"] == "6A0F3E9D4188C2B507E1935A7C2D4F80B166D309"
    assert tls.fields["tls.server.ja3s"] == "ec74a5c51106f0419184d0dd08fb05bc"


def test_dns_v1_v2_v3_normalize_alike() -> None:
    events, _, _ = read_all(EVE)
    dns = [e for e in events if e.logsource.service == "dns"]
    query_v2, answer_v2, answer_v1, response_v3 = dns
    for e in dns:
        assert e.logsource == LogSource("suricata", "dns", "dns")
        assert e.fields["network.protocol"] == "dns"
    assert query_v2.fields["dns.type"] == "query"
    assert query_v2.fields["dns.question.name"] == "update.example-cdn.top"
    assert answer_v2.fields["dns.answers.data"] == ["203.0.113.80"]
    assert answer_v2.fields["dns.header_flags"] == ["RD", "RA"]
    assert answer_v1.fields["dns.type"] == "answer"
    assert answer_v1.fields["dns.question.name"] == "fileserver.corp.example.co.jp"
    assert answer_v1.fields["dns.answers.data"] == ["10.10.1.20"]
    assert answer_v1.fields["dns.response_code"] == "NOERROR"
    assert response_v3.fields["dns.type"] == "answer"
    assert response_v3.fields["dns.question.name"] == "aGVsbG8td29ybGQ.tunnel.example.org"
    assert response_v3.fields["dns.question.type"] == "TXT"
    assert response_v3.fields["dns.response_code"] == "NXDOMAIN"
    # Sigma's dns category names, for generic rules (query / record_type / answer).
    assert response_v3.original["query"] == "aGVsbG8td29ybGQ.tunnel.example.org"
    assert response_v3.original["record_type"] == "TXT"
    assert answer_v2.original["answer"] == ["203.0.113.80"]


def test_http_fileinfo_flow_anomaly() -> None:
    events, _, _ = read_all(EVE)
    by_type = {e.logsource.service: e for e in events}
    http = by_type["http"]
    assert http.fields["http.request.referrer"] == "http://update.example-cdn.top/"
    assert http.fields["event.category"] == ["network", "web"]
    info = by_type["fileinfo"]
    assert info.fields["file.path"] == "/a/b.exe" and info.fields["file.size"] == 73802
    assert info.fields["file.hash.sha256"].startswith("0f3c8a2b")
    flow = by_type["flow"]
    assert flow.fields["event.type"] == ["connection"]
    assert flow.fields["event.end"] == "2024-03-04T01:15:08.402113Z"
    assert flow.fields["source.bytes"] == 634 and flow.fields["destination.packets"] == 58
    assert flow.fields["event.action"] == "closed"
    anomaly = by_type["anomaly"]
    assert anomaly.fields["event.action"] == "INVALID_RECORD_TYPE"
    assert anomaly.fields["network.protocol"] == "tls"


def test_broken_lines_become_warnings_neighbours_kept(tmp_path: Path) -> None:
    lines = EVE.read_bytes().splitlines(keepends=True)
    cut = lines[1][:80] + b"\n"
    no_type = b'{"timestamp":"2024-03-04T10:15:01.5+0900","src_ip":"10.0.0.1"}\n'
    bad_time = b'{"timestamp":"04/Mar/2024","event_type":"flow","src_ip":"10.0.0.1"}\n'
    data = b"".join([lines[0], cut, lines[2], no_type, bad_time, lines[3]])
    path = tmp_path / "eve.json"
    path.write_bytes(data)
    events, reader, warnings = read_all(path)
    assert [e.logsource.service for e in events] == ["dns", "http", "alert"]
    found = [w for w in warnings if isinstance(w, ParseWarning)]
    assert [(w.kind, w.offset) for w in found] == [
        ("bad-json", len(lines[0])),
        ("bad-record", data.index(no_type)),
        ("bad-time", data.index(bad_time)),
    ]
    assert reader.stats.files[0].warnings == 3


def test_sniffing_picks_eve_for_eve_only() -> None:
    source = SourceFile.from_bytes("eve.json", EVE.read_bytes())
    parser, _ = registry.sniff(source.head(), source.name)
    assert parser is not None and parser.NAME == "suricata-eve"
    # Works on a renamed file too: the content decides.
    parser, _ = registry.sniff(source.head(), "sensor1.log")
    assert parser is not None and parser.NAME == "suricata-eve"
    assert_not_sniffed_outside("suricata", {"suricata-eve"})


@pytest.mark.parametrize("line", [
    b'{"EventID":4624,"Channel":"Security","timestamp":"2024-03-04","event_type":"x"}',
    b'{"@timestamp":"2024-03-04T00:10:10Z","event":{"type":"start"},"host":{"name":"WS"},'
    b'"timestamp":"2024-03-04T00:10:10Z","event_type":"x"}',
    b'{"@stream":"conn","ts":1588205199.82437,"uid":"Cvf4XX17hSAgXDdGEd",'
    b'"id_orig_h":"10.0.1.6"}',
    b'{"ts":1588205199.82437,"uid":"C1","id.orig_h":"10.0.1.6","_path":"conn"}',
])
def test_sniffer_leaves_foreign_json_alone(line: bytes) -> None:
    assert SuricataEveParser().sniff(line + b"\n", "eve.json") == 0
