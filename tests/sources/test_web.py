"""Web server access logs (R8): Apache/Nginx combined and common, IIS W3C."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kizuki.model import Event, LogSource
from kizuki.sources import ParseContext, SourceFile, SourceSettings, registry
from kizuki.sources.base import ParseWarning
from kizuki.sources.web import IisW3cParser, WebAccessParser

from ..conftest import DATA, assert_not_sniffed_outside, read_all

WEB = DATA / "web"
ACCESS = WEB / "access.log"
IIS = WEB / "u_ex240304.log"
OURS = {"web-access", "iis-w3c"}
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/122.0.0.0 Safari/537.36")


def _one(line: bytes, parser: WebAccessParser | IisW3cParser | None = None,
         settings: SourceSettings | None = None) -> tuple[list[Event], list[ParseWarning]]:
    source = SourceFile.from_bytes("access.log", line)
    seen: list[ParseWarning] = []
    ctx = ParseContext(source, settings or SourceSettings(), seen.append)
    return list((parser or WebAccessParser()).parse(source, ctx)), seen


def test_combined_counts_and_one_full_event() -> None:
    events, reader, warnings = read_all(ACCESS)
    assert not warnings
    assert len(events) == 10 and reader.stats.files[0].format == "web-access"
    e = events[2]  # tanaka fetches /経理/2024/予算.xlsx, percent-encoded
    assert e.timestamp == datetime(2024, 3, 4, 1, 13, 40, tzinfo=UTC)  # 10:13:40 +0900
    assert e.data_type == "web:access:combined"
    assert e.logsource == LogSource(category="webserver")
    path = "/%E7%B5%8C%E7%90%86/2024/%E4%BA%88%E7%AE%97.xlsx"
    referrer = "http://intra.example.co.jp/%E7%B5%8C%E7%90%86/"
    assert e.fields == {
        "event.kind": "event",
        "event.category": ["web"],
        "event.type": ["access"],
        "event.outcome": "success",
        "source.address": "10.10.20.45",
        "source.ip": "10.10.20.45",
        "user.name": "tanaka",
        "http.request.method": "GET",
        "http.request.referrer": referrer,
        "http.version": "1.1",
        "http.response.status_code": 200,
        "http.response.body.bytes": 48211,
        "url.original": path,
        "url.path": path,
        "url.extension": "xlsx",
        "user_agent.original": CHROME,
    }
    # Sigma webserver names, the same ones IIS records carry.
    assert e.original == {
        "c-ip": "10.10.20.45",
        "time_local": "04/Mar/2024:10:13:40 +0900",
        "cs-username": "tanaka",
        "request": f"GET {path} HTTP/1.1",
        "cs-method": "GET",
        "cs-uri-stem": path,
        "cs-uri-query": path,
        "cs-uri": path,
        "c-uri": path,
        "cs-version": "HTTP/1.1",
        "sc-status": 200,
        "sc-bytes": 48211,
        "cs-referer": referrer,
        "cs-user-agent": CHROME,
    }
    assert e.message == ACCESS.read_text("utf-8").splitlines()[2]
    assert e.origin.offset == 189 + 224


def test_sql_injection_lines_keep_what_sigma_rules_match() -> None:
    events, _, _ = read_all(ACCESS)
    first, union = events[3], events[4]
    assert first.original["cs-uri-query"] == "/products.php?id=1%27%20AND%20%271%27%3D%271"
    assert "%271%27%3D%271" in first.original["cs-uri-query"]  # SigmaHQ keyword
    assert first.fields["url.query"] == "id=1%27%20AND%20%271%27%3D%271"
    assert first.original["c-uri-query"] == first.fields["url.query"]
    assert first.fields["url.path"] == "/products.php"
    assert "UNION%20ALL%20SELECT" in union.original["cs-uri-query"]
    assert union.message is not None and "CONCAT(0x" in union.message
    assert union.fields["event.outcome"] == "failure"  # 500
    assert union.original["cs-user-agent"].startswith("sqlmap/")


def test_odd_request_lines_and_escaped_quotes() -> None:
    events, _, warnings = read_all(ACCESS)
    assert not warnings
    timeout, tls_junk, login = events[6], events[7], events[8]
    assert "request" not in timeout.original and "cs-method" not in timeout.original
    assert timeout.fields["http.response.status_code"] == 408
    assert timeout.fields["http.response.body.bytes"] == 0  # %b "-"
    assert "cs-referer" not in timeout.original and "cs-user-agent" not in timeout.original
    assert tls_junk.original["request"] == "\\x16\\x03\\x01\\x02"
    assert "url.original" not in tls_junk.fields
    assert login.fields["user_agent.original"] == (
        'Mozilla/5.0 (X11; Linux x86_64) "Custom" Agent/1.0')
    assert login.fields["http.request.method"] == "POST"


def test_nginx_trailing_fields_and_utc_offset() -> None:
    events, _, _ = read_all(ACCESS)
    nginx = events[9]
    assert nginx.timestamp == datetime(2024, 3, 4, 1, 23, 7, tzinfo=UTC)
    assert nginx.fields["http.version"] == "2.0"
    assert nginx.original["extra"] == ["-", "rt=0.004", 'uct="0.001"']
    assert nginx.original["extra.rt"] == "0.004" and nginx.original["extra.uct"] == "0.001"


def test_common_vhost_and_zone_less_lines() -> None:
    (common,), _ = _one(b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] '
                        b'"GET /apache_pb.gif HTTP/1.0" 200 2326\n')
    assert common.data_type == "web:access:common"
    assert common.timestamp == datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)
    assert common.fields["user.name"] == "frank"
    (vhost,), _ = _one(b'www.example.co.jp:443 192.0.2.1 - - [04/Mar/2024:10:00:00 +0900] '
                       b'"GET /index.html HTTP/1.1" 200 10 "-" "curl/8.4.0"\n')
    assert vhost.original["cs-host"] == "www.example.co.jp"
    assert vhost.fields["destination.port"] == 443
    assert vhost.fields["url.domain"] == "www.example.co.jp"
    (ipv6,), _ = _one(b'2001:db8::5 - - [04/Mar/2024:10:00:00 +0900] "GET / HTTP/1.1" 200 1\n')
    assert ipv6.fields["source.ip"] == "2001:db8::5"
    # A time without an offset is read in the source's configured zone.
    (local,), _ = _one(b'192.0.2.1 - - [04/Mar/2024:10:00:00] "GET / HTTP/1.1" 200 1\n',
                       settings=SourceSettings(timezone="Asia/Tokyo"))
    assert local.timestamp == datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
    (proxy,), _ = _one(b'203.0.113.9 - - [04/Mar/2024:10:00:00 +0900] '
                       b'"GET http://example.com/a.php?x=1 HTTP/1.1" 404 1 "-" "-"\n')
    assert proxy.fields["url.domain"] == "example.com"
    assert proxy.fields["url.path"] == proxy.original["cs-uri-stem"] == "/a.php"
    assert proxy.original["cs-uri-query"] == "http://example.com/a.php?x=1"
    (host,), _ = _one(b'ws01.corp.example - - [04/Mar/2024:10:00:00 +0900] '
                      b'"GET / HTTP/1.1" 200 1\n')
    assert host.fields["source.domain"] == "ws01.corp.example"
    assert "source.ip" not in host.fields


def test_combined_broken_lines_become_warnings(tmp_path: Path) -> None:
    lines = ACCESS.read_bytes().splitlines(keepends=True)
    garbage = b"this is not an access log line\n"
    bad_date = b'10.0.0.1 - - [31/Feb/2024:10:00:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    data = b"".join([lines[0], garbage, lines[1], bad_date, lines[2]])
    path = tmp_path / "access.log"
    path.write_bytes(data)
    events, reader, warnings = read_all(path)
    assert len(events) == 3
    assert [e.fields["url.path"] for e in events] == ["/", "/css/site.css",
                                                       events[2].original["cs-uri-stem"]]
    found = [w for w in warnings if isinstance(w, ParseWarning)]
    assert [(w.kind, w.offset) for w in found] == [
        ("bad-line", len(lines[0])), ("bad-time", data.index(bad_date))]
    assert reader.stats.files[0].warnings == 2


def test_iis_counts_and_one_full_event() -> None:
    events, reader, warnings = read_all(IIS)
    assert not warnings
    assert len(events) == 7 and reader.stats.files[0].format == "iis-w3c"
    e = events[2]  # web shell command on errorFE.aspx
    assert e.timestamp == datetime(2024, 3, 4, 1, 13, 10, tzinfo=UTC)  # IIS writes UTC
    assert e.data_type == "web:iis:w3c"
    assert e.logsource == LogSource("iis", None, "webserver")
    target = "/aspnet_client/system_web/errorFE.aspx?cmd=whoami"
    assert e.fields == {
        "event.kind": "event",
        "event.category": ["web"],
        "event.type": ["access"],
        "event.outcome": "success",
        "event.duration": 31_000_000,
        "source.ip": "198.51.100.7",
        "destination.ip": "10.10.1.30",
        "destination.port": 443,
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "url.original": target,
        "url.path": "/aspnet_client/system_web/errorFE.aspx",
        "url.query": "cmd=whoami",
        "url.extension": "aspx",
        "user_agent.original": "python-requests/2.31.0",
    }
    assert e.original == {
        "date": "2024-03-04", "time": "01:13:10", "s-ip": "10.10.1.30", "cs-method": "GET",
        "cs-uri-stem": "/aspnet_client/system_web/errorFE.aspx", "s-port": 443,
        "c-ip": "198.51.100.7", "cs(User-Agent)": "python-requests/2.31.0",
        "sc-status": 200, "sc-substatus": 0, "sc-win32-status": 0, "time-taken": 31,
        "cs-user-agent": "python-requests/2.31.0",
        # cs-uri-query holds the whole target (SigmaHQ practice); the raw query moves.
        "cs-uri-query": target, "cs-uri": target, "c-uri": target,
        "c-uri-query": "cmd=whoami",
    }
    assert e.message is not None and "cmd=whoami" in e.message


def test_iis_user_agent_pluses_second_header_block_and_tilde_scan() -> None:
    events, _, _ = read_all(IIS)
    owa = events[1]
    assert owa.original["cs(User-Agent)"].startswith("Mozilla/5.0+(Windows+NT")
    assert owa.fields["user_agent.original"] == CHROME
    assert owa.fields["user.name"] == "CORP\\tanaka"
    assert owa.original["cs-referer"] == "https://mail.example.co.jp/owa/auth/logon.aspx"
    tilde = events[5]
    # web_iis_tilt_shortname_scan matches cs-uri-query contains '~1' and endswith 'a.aspx'.
    assert "~1" in tilde.original["cs-uri-query"]
    assert tilde.original["cs-uri-query"].endswith("a.aspx")
    assert "cs-user-agent" not in tilde.original and "cs-referer" not in tilde.original
    late = events[6]  # after the restart: more columns
    assert late.fields["host.name"] == "WEB01" and late.fields["service.name"] == "W3SVC1"
    assert late.fields["url.domain"] == "portal.example.co.jp"
    assert late.original["cs-host"] == "portal.example.co.jp"
    assert late.original["cs-cookie"].startswith("ASP.NET_SessionId=")
    assert late.fields["http.version"] == "1.1"
    assert late.fields["http.response.bytes"] == 10422
    assert late.fields["http.request.bytes"] == 612
    japanese = events[4]
    assert japanese.fields["url.path"] == "/%E8%B3%87%E6%96%99/%E4%BA%88%E7%AE%97.pdf"


def test_iis_broken_lines_become_warnings(tmp_path: Path) -> None:
    lines = IIS.read_bytes().splitlines(keepends=True)
    short = b"2024-03-04 01:12:05 10.10.1.30 GET /owa/\r\n"
    bad_status = lines[4].replace(b" 302 0 0 15", b" abc 0 0 15")
    assert bad_status != lines[4]
    data = b"".join([*lines[:5], short, lines[5], bad_status, *lines[6:8]])
    path = tmp_path / "u_ex240304.log"
    path.write_bytes(data)
    events, _, warnings = read_all(path)
    assert len(events) == 4
    found = [w for w in warnings if isinstance(w, ParseWarning)]
    assert [(w.kind, w.offset) for w in found] == [
        ("bad-columns", data.index(short)), ("bad-value", data.index(bad_status))]
    # A record before any #Fields line cannot be read.
    records, seen = _one(lines[4], IisW3cParser())
    assert records == [] and [w.kind for w in seen] == ["bad-header"]


def test_sniffing_picks_web_parsers_for_web_only() -> None:
    for path, expected in ((ACCESS, "web-access"), (IIS, "iis-w3c")):
        source = SourceFile.from_bytes(path.name, path.read_bytes())
        parser, _ = registry.sniff(source.head(), source.name)
        assert parser is not None and parser.NAME == expected
    assert_not_sniffed_outside("web", OURS)
    # A W3C log that is not a web server's (Windows Firewall) is not IIS.
    firewall = (b"#Version: 1.5\r\n#Software: Microsoft Windows Firewall\r\n#Time Format: Local"
                b"\r\n#Fields: date time action protocol src-ip dst-ip src-port dst-port size"
                b"\r\n2024-03-04 10:00:00 DROP TCP 10.0.0.5 10.0.0.1 50000 445 52\r\n")
    assert IisW3cParser().sniff(firewall, "pfirewall.log") == 0
    assert WebAccessParser().sniff(firewall, "pfirewall.log") == 0
