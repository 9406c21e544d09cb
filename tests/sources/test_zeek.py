"""Zeek logs, TSV and JSON (R1): real OTRF samples, escapes, the @stream variant."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kizuki.model import LogSource
from kizuki.sources import ParseContext, SourceFile, registry
from kizuki.sources.base import ParseWarning
from kizuki.sources.zeek import ZeekJsonParser, ZeekTsvParser, log_type_from_name

from ..conftest import DATA, assert_not_sniffed_outside, read_all

ZEEK = DATA / "zeek"
OURS = {"zeek-tsv", "zeek-json"}


def test_tsv_conn_counts_and_one_full_event() -> None:
    events, reader, warnings = read_all(ZEEK / "conn.log")
    assert not warnings
    assert len(events) == 25 and reader.stats.files[0].format == "zeek-tsv"
    e = events[3]  # 1692161643.549491 CX6po61SVaO8po0uh8 ... tcp - 1.201128 0 403 SHR
    assert e.timestamp == datetime(2023, 8, 16, 4, 54, 3, 549491, tzinfo=UTC)
    assert e.data_type == "zeek:conn"
    assert e.logsource == LogSource("zeek", "conn")
    assert e.fields == {
        "event.kind": "event",
        "event.module": "zeek",
        "event.category": ["network"],
        "event.type": ["connection"],
        "event.dataset": "zeek.conn",
        "event.id": "CX6po61SVaO8po0uh8",
        "event.duration": 1_201_128_000,
        "observer.product": "zeek",
        "observer.type": "ids",
        "zeek.session_id": "CX6po61SVaO8po0uh8",
        "zeek.connection.state": "SHR",
        "zeek.connection.history": "^hadf",
        "source.ip": "192.168.1.41",
        "source.port": 55213,
        "source.bytes": 0,
        "source.packets": 0,
        "destination.ip": "10.0.5.13",
        "destination.port": 80,
        "destination.bytes": 403,
        "destination.packets": 5,
        "network.transport": "tcp",
    }
    # Every set field is kept, typed from #types; unset ("-") fields are left out.
    assert e.original == {
        "ts": 1692161643.549491, "uid": "CX6po61SVaO8po0uh8", "id.orig_h": "192.168.1.41",
        "id.orig_p": 55213, "id.resp_h": "10.0.5.13", "id.resp_p": 80, "proto": "tcp",
        "duration": 1.201128, "orig_bytes": 0, "resp_bytes": 403, "conn_state": "SHR",
        "local_orig": True, "local_resp": True, "missed_bytes": 0, "history": "^hadf",
        "orig_pkts": 0, "orig_ip_bytes": 0, "resp_pkts": 5, "resp_ip_bytes": 615,
    }
    assert e.origin.path == str(ZEEK / "conn.log") and e.origin.offset == (
        (ZEEK / "conn.log").read_bytes().index(b"1692161643.549491")
    )


def test_tsv_dns_vectors_flags_and_sigma_dns_category() -> None:
    events, _, warnings = read_all(ZEEK / "dns.log")
    assert not warnings and len(events) == 12
    servfail = events[0]
    assert servfail.original["rcode_name"] == "SERVFAIL" and "query" not in servfail.original
    assert servfail.original["rejected"] is True
    answered = next(e for e in events if "answers" in e.original)
    assert answered.original["answers"] == ["dc01.pandalab.com"]
    assert answered.original["TTLs"] == [600.0]
    assert answered.fields["dns.question.name"] == (
        "_ldap._tcp.default-first-site-name._sites.dc._msdcs.pandalab.com")
    assert answered.fields["dns.answers.data"] == ["dc01.pandalab.com"]
    assert answered.fields["dns.response_code"] == "NOERROR"
    assert answered.fields["dns.header_flags"] == ["AA", "RA"]
    # Zeek dns records also serve Sigma's generic dns category (query / answer names).
    assert answered.logsource == LogSource("zeek", "dns", "dns")
    assert answered.original["answer"] == ["dc01.pandalab.com"]
    llmnr = events[-1]
    assert llmnr.fields["source.ip"] == "fe80::5d91:ea18:e2b5:9755"
    assert llmnr.original["record_type"] == llmnr.fields["dns.question.type"] == "A"


def test_tsv_escapes_utf8_sets_and_smb_paths() -> None:
    events, _, warnings = read_all(ZEEK / "smb_files.log")
    assert not warnings and len(events) == 4
    first = events[0]
    assert first.original["name"] == "経理\\2024年度\\予算.xlsx"
    assert first.fields["file.path"] == "\\\\FS01\\share\\経理\\2024年度\\予算.xlsx"
    assert first.fields["file.name"] == first.original["name"]
    assert first.fields["file.directory"] == "\\\\FS01\\share"
    assert first.fields["event.action"] == "SMB::FILE_OPEN"
    assert first.fields["file.size"] == 48211
    assert first.fields["file.mtime"] == "2024-03-01T08:00:00.000000Z"
    assert first.logsource == LogSource("zeek", "smb_files")
    # \xHH escapes are decoded like Zeek's own reader does, UTF-8 bytes included.
    assert events[3].original["name"] == "あ\tmemo.txt"
    assert "fuid" not in events[3].original and "size" not in events[3].original
    # The impacket secretsdump pattern a SigmaHQ rule looks for is readable as written.
    assert events[2].original["path"].endswith("ADMIN$")
    assert events[2].original["name"].endswith(".tmp")


def test_tsv_kerberos_principals_and_outcome() -> None:
    events, _, warnings = read_all(ZEEK / "kerberos.log")
    assert not warnings and len(events) == 10
    failed, ok = events[0], events[1]
    assert failed.fields["event.outcome"] == "failure"
    assert failed.fields["error.message"] == "KDC_ERR_PREAUTH_REQUIRED"
    assert "user.name" not in failed.fields
    assert ok.fields["user.name"] == "stevie.marie"
    assert ok.fields["user.domain"] == "PANDALAB.COM"
    assert ok.fields["event.outcome"] == "success"
    assert ok.fields["event.category"] == ["network", "authentication"]


def test_json_underscore_variant_is_renamed_to_zeek_names() -> None:
    events, reader, warnings = read_all(ZEEK / "combined_zeek.log")
    assert not warnings and len(events) == 21
    assert reader.stats.files[0].format == "zeek-json"
    assert Counter(e.logsource.service for e in events) == {
        "conn": 3, "dns": 3, "http": 2, "ssl": 1, "x509": 1, "files": 1, "kerberos": 2,
        "smb_files": 1, "smb_mapping": 1, "dce_rpc": 2, "notice": 1, "weird": 1,
        "dpd": 1, "pe": 1,
    }
    for e in events:
        assert not any(k.startswith(("id_", "certificate_", "times_")) for k in e.original)
        assert e.original["@proc"] == "zeek"
        assert e.fields["observer.name"] == e.original["@system"]
        assert e.data_type == f"zeek:{e.original['@stream']}"
    conn = events[0]
    assert conn.original["id.orig_h"] == "10.0.1.6" and conn.fields["source.ip"] == "10.0.1.6"
    x509 = next(e for e in events if e.logsource.service == "x509")
    assert x509.original["certificate.serial"] == "7EFDE1CFECCCDB44"
    assert x509.original["basic_constraints.ca"] is True
    assert x509.fields["x509.serial_number"] == "7EFDE1CFECCCDB44"
    assert x509.fields["x509.not_after"] == "2024-08-04T05:45:31.000000Z"
    smb = next(e for e in events if e.logsource.service == "smb_files")
    assert smb.original["times.modified"] == 1588187906.664602
    notice = next(e for e in events if e.logsource.service == "notice")
    assert notice.fields["event.kind"] == "alert"
    assert notice.fields["rule.name"] == "SSL::Invalid_Server_Cert"
    assert notice.message is not None and notice.message.startswith("SSL certificate")


def test_json_http_webdav_exe_download_fields() -> None:
    events, _, _ = read_all(ZEEK / "combined_zeek.log")
    dl = next(e for e in events if e.original.get("uri") == "/webdav/python.exe")
    assert dl.fields["http.request.method"] == "GET"
    assert dl.fields["url.original"] == dl.fields["url.path"] == "/webdav/python.exe"
    assert dl.fields["url.domain"] == "192.168.0.4"
    assert dl.fields["http.response.status_code"] == 200
    assert dl.fields["http.response.mime_type"] == "application/x-dosexec"
    assert dl.fields["user_agent.original"] == "Microsoft-WebDAV-MiniRedir/10.0.18362"
    assert dl.fields["event.category"] == ["network", "web"]
    # The proxy-style names of SigmaHQ's zeek_http_executable_download_from_webdav.
    assert dl.original["c-uri"] == "/webdav/python.exe"
    assert dl.original["c-useragent"].startswith("Microsoft-WebDAV")
    assert dl.original["resp_mime_types"] == ["application/x-dosexec"]


def test_json_plain_dotted_with_iso_ts() -> None:
    events, reader, warnings = read_all(ZEEK / "zeek_http.json")
    assert not warnings and len(events) == 3
    assert reader.stats.files[0].format == "zeek-json"
    put = events[1]
    assert put.timestamp == datetime(2024, 3, 4, 1, 15, 8, 312577, tzinfo=UTC)
    assert put.logsource == LogSource("zeek", "http")
    assert put.original["method"] == "PUT" and put.original["id.resp_h"] == "198.51.100.23"
    assert put.fields["url.path"] == "/dav/%E8%B3%87%E6%96%99.zip"
    exe = events[2]
    assert exe.fields["url.query"] == "id=7"
    assert exe.fields["http.request.referrer"] == "http://update.example-cdn.top/"


def test_log_type_from_file_names() -> None:
    assert log_type_from_name("NASHUA_conn.log") == "conn"
    assert log_type_from_name("SCRANTON_smb_files.log") == "smb_files"
    assert log_type_from_name("dce_rpc.log") == "dce_rpc"
    assert log_type_from_name("zeek/files.log") == "files"
    assert log_type_from_name("conn.2024-03-04-00-00-00.log.gz") == "conn"
    assert log_type_from_name("dns.00:00:00-01:00:00.log") == "dns"
    assert log_type_from_name("combined_zeek.log") is None
    # A JSON record without _path or @stream takes its type from the file name.
    line = (b'{"ts":1588205198.89971,"uid":"Cw1Hz43UWS4qXFei8f","id.orig_h":"10.0.1.4",'
            b'"id.orig_p":64842,"id.resp_h":"10.0.0.4","id.resp_p":53,"proto":"udp",'
            b'"query":"newyork.dmevals.local","qtype_name":"A"}\n')
    source = SourceFile.from_bytes("NASHUA_dns.log", line)
    parser = ZeekJsonParser()
    (event,) = list(parser.parse(source, ParseContext(source)))
    assert event.logsource == LogSource("zeek", "dns", "dns")
    assert event.fields["dns.question.name"] == "newyork.dmevals.local"


def test_tsv_broken_lines_become_warnings_neighbours_kept(tmp_path: Path) -> None:
    lines = (ZEEK / "conn.log").read_bytes().splitlines(keepends=True)
    header, records = lines[:8], lines[8:-1]
    broken = [
        b"1692161650.0\tCshort\t192.168.1.41\n",  # too few columns
        records[1].replace(b"\tT\tT\t", b"\tmaybe\tT\t", 1),  # a bool that is not T/F
    ]
    data = b"".join([*header, records[0], broken[0], records[2], broken[1], records[3]])
    path = tmp_path / "conn.log"
    path.write_bytes(data)
    events, reader, warnings = read_all(path)
    assert len(events) == 3
    assert [e.original["uid"] for e in events] == [
        records[i].split(b"\t")[1].decode() for i in (0, 2, 3)]
    found = [w for w in warnings if isinstance(w, ParseWarning)]
    assert [w.kind for w in found] == ["bad-columns", "bad-value"]
    assert found[0].offset == data.index(broken[0])
    assert found[1].offset == data.index(broken[1])
    assert "local_orig" in found[1].message
    assert reader.stats.files[0].warnings == 2


def test_tsv_record_before_header_and_second_header_block() -> None:
    conn = (ZEEK / "conn.log").read_bytes().splitlines(keepends=True)
    dns = (ZEEK / "dns.log").read_bytes().splitlines(keepends=True)
    data = b"".join([conn[8], *conn[:10], *dns[:9], conn[-1]])
    source = SourceFile.from_bytes("mixed.log", data)
    seen: list[ParseWarning] = []
    events = list(ZeekTsvParser().parse(source, ParseContext(source, sink=seen.append)))
    assert [w.kind for w in seen] == ["bad-header"] and seen[0].offset == 0
    # The concatenated dns block switches #path, #fields and #types mid-file.
    assert [e.logsource.service for e in events] == ["conn", "conn", "dns"]
    assert events[2].original["rcode_name"] == "SERVFAIL"


def test_json_broken_line_is_a_warning(tmp_path: Path) -> None:
    lines = (ZEEK / "SCRANTON_dns.log").read_bytes().splitlines(keepends=True)
    cut = lines[1][:60] + b"\n"
    no_ts = b'{"@stream":"dns","uid":"Cxx","query":"a.example"}\n'
    data = b"".join([lines[0], cut, lines[2], no_ts, lines[3]])
    path = tmp_path / "SCRANTON_dns.log"
    path.write_bytes(data)
    events, _, warnings = read_all(path)
    assert len(events) == 3
    found = [w for w in warnings if isinstance(w, ParseWarning)]
    assert [(w.kind, w.offset) for w in found] == [
        ("bad-json", len(lines[0])), ("bad-time", data.index(no_ts))]


def test_sniffing_picks_zeek_for_zeek_only() -> None:
    for name, expected in (("conn.log", "zeek-tsv"), ("smb_files.log", "zeek-tsv"),
                           ("combined_zeek.log", "zeek-json"),
                           ("SCRANTON_dns.log", "zeek-json"), ("zeek_http.json", "zeek-json")):
        source = SourceFile.from_bytes(name, (ZEEK / name).read_bytes())
        parser, _ = registry.sniff(source.head(), source.name)
        assert parser is not None and parser.NAME == expected, name
    assert_not_sniffed_outside("zeek", OURS)


@pytest.mark.parametrize("line", [
    # Windows JSON export, ECS JSON, Suricata EVE: other parsers' records.
    b'{"EventID":4624,"Channel":"Security","ts":1,"uid":"x","TimeCreated":"2024-03-04"}',
    b'{"@timestamp":"2024-03-04T00:10:10Z","event":{"code":"4663"},"host":{"name":"WS"},'
    b'"ts":1,"uid":"C1"}',
    b'{"timestamp":"2024-03-04T01:02:03.123456+0900","event_type":"dns","src_ip":"10.0.0.1",'
    b'"ts":1}',
])
def test_json_sniffer_leaves_foreign_json_alone(line: bytes) -> None:
    assert ZeekJsonParser().sniff(line + b"\n", "conn.log") == 0


def test_shared_otrf_zeek_archives_read_cleanly(shared_data: Path) -> None:
    """Both Security-Datasets encodings, straight from their zip archives."""
    compound = shared_data / "security-datasets" / "datasets" / "compound"
    lsass = compound / "LSASS_campaign_01" / (
        "metasploit_logonpasswords_lsass_memory_dump_zeek_logs.zip")
    scranton = compound / "apt29" / "day1" / "zeek" / "SCRANTON-zeek_logs.zip"
    events, reader, warnings = read_all(lsass, scranton)
    assert not warnings
    formats = Counter(f.format for f in reader.stats.files)
    assert formats == {"zeek-tsv": 12, "zeek-json": 14}
    services = {e.logsource.service for e in events}
    assert {"conn", "dns", "http", "ssl", "kerberos", "smb_mapping", "smb_files",
            "dce_rpc", "x509", "files", "notice", "weird", "analyzer"} <= services
    assert all(e.logsource.product == "zeek" for e in events)
