"""Syslog envelopes (RFC 3164, RFC 5424, rsyslog files) and their content: sshd, PAM,
sudo, su (R5, R9) and Samba full_audit (R7)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.model import Event, LogSource
from kizuki.sources import SourceFile, SourceSettings, registry
from kizuki.sources.base import ParseContext, ParseWarning
from kizuki.sources.syslog import Rfc3164Parser

from ..conftest import DATA, read_all

SY = DATA / "syslog"
COUNTS = {"auth.log": 28, "precise.log": 8, "rfc3164.log": 7, "rfc5424.log": 12,
          "samba_audit.log": 10}
FORMATS = {"auth.log": "syslog-rfc3164", "precise.log": "syslog-rfc3164",
           "rfc3164.log": "syslog-rfc3164", "rfc5424.log": "syslog-rfc5424",
           "samba_audit.log": "syslog-rfc3164"}
SSHD = LogSource("linux", "sshd")


def _parse(data: bytes, *, mtime: datetime | None = None,
           source_settings: SourceSettings | None = None,
           ) -> tuple[list[Event], list[ParseWarning]]:
    """Parse bytes with the RFC 3164 parser (either parser reads every envelope)."""
    source = SourceFile("mem.log", lambda: io.BytesIO(data), mtime=mtime, size=len(data))
    warnings: list[ParseWarning] = []
    ctx = ParseContext(source, source_settings or SourceSettings(), warnings.append)
    return list(Rfc3164Parser().parse(source, ctx)), warnings


def test_every_sample_is_read_whole() -> None:
    for name, count in COUNTS.items():
        events, reader, warnings = read_all(SY / name)
        assert not warnings, (name, warnings)
        assert len(events) == count, name
        assert reader.stats.files[0].format == FORMATS[name]
        for e in events:
            assert e.timestamp.tzinfo is UTC
            assert e.fields["host.name"] and e.message is not None
            assert e.origin.path == str(SY / name)


def test_rfc5424_sshd_login_full_event() -> None:
    events, _, _ = read_all(SY / "rfc5424.log")
    e = events[0]
    assert e.timestamp == datetime(2026, 11, 26, 1, 54, 38, 438207, tzinfo=UTC)
    assert e.data_type == "syslog:linux:sshd"
    assert e.logsource == SSHD
    assert e.origin.offset == 0
    assert e.message == ("Accepted publickey for alice from 192.0.2.10 port 51234 ssh2: ED25519 "
                         "SHA256:Vh3n2cQkq0mZ9p3wJ7o0xqfXr5n1bq7t8Yl2W4kP9sU")
    assert e.fields == {
        "log.syslog.version": "1",
        "log.syslog.priority": 38,
        "log.syslog.facility.code": 4,
        "log.syslog.facility.name": "auth",
        "log.syslog.severity.code": 6,
        "log.syslog.severity.name": "Informational",
        "host.name": "vm",
        "process.name": "sshd",
        "process.pid": 2811,
        "event.category": ["authentication"],
        "event.type": ["start"],
        "event.action": "ssh-login",
        "event.outcome": "success",
        "user.name": "alice",
        "source.ip": "192.0.2.10",
        "source.port": 51234,
    }
    assert e.original == {
        "pri": "38",
        "timestamp": "2026-11-26T01:54:38.438207+00:00",
        "hostname": "vm",
        "program": "sshd",
        "pid": "2811",
        "msg": e.message,
        "method": "publickey",
        "sd.timeQuality.tzKnown": "1",
        "sd.timeQuality.isSynced": "0",
    }


def test_sudo_command_full_event_r9() -> None:
    events, _, _ = read_all(SY / "auth.log", settings=SourceSettings(year=2024))
    e = next(x for x in events if x.origin.offset == 1564)
    assert e.timestamp == datetime(2023, 12, 31, 15, 3, 10, tzinfo=UTC)  # Jan 1 2024 JST
    assert e.data_type == "syslog:linux:sudo"
    assert e.logsource == LogSource("linux", "sudo")
    assert e.fields == {
        "host.name": "srv01",
        "process.name": "sudo",
        "user.name": "alice",
        "user.effective.name": "root",
        "process.working_directory": "/home/alice",
        "process.command_line": "/bin/cat /etc/shadow",
        "process.executable": "/bin/cat",
        "event.action": "sudo-command",
        "event.category": ["process"],
        "event.type": ["start"],
        "event.outcome": "success",
    }
    assert e.original == {
        "timestamp": "Jan  1 00:03:10",
        "hostname": "srv01",
        "program": "sudo",
        "msg": "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow",
        "TTY": "pts/0",
        "PWD": "/home/alice",
        "USER": "root",
        "COMMAND": "/bin/cat /etc/shadow",
    }


def test_sudo_refusals_and_cve_2019_14287_field() -> None:
    events, _, _ = read_all(SY / "auth.log")
    refused = [e for e in events if e.fields.get("event.action") == "sudo-command"
               and e.fields["event.outcome"] == "failure"]
    assert [e.fields["event.reason"] for e in refused] == [
        "3 incorrect password attempts", "user NOT in sudoers"]
    assert refused[0].fields["event.category"] == ["process", "authentication"]
    # SigmaHQ lnx_sudo_exploit_cve_2019_14287 tests the original USER field.
    assert refused[1].original["USER"] == "#-1"
    assert refused[1].fields["user.name"] == "mallory"


def test_sshd_and_pam_actions() -> None:
    events, _, _ = read_all(SY / "auth.log")
    sshd = [e for e in events if e.logsource == SSHD]
    actions = [(e.fields.get("event.action"), e.fields.get("event.outcome"),
                e.fields.get("user.name"), e.fields.get("source.ip")) for e in sshd]
    assert actions == [
        ("ssh-invalid-user", "failure", "oracle", "203.0.113.5"),
        (None, None, None, None),  # "check pass; user unknown" stays an envelope
        ("pam-auth-failure", "failure", None, "203.0.113.5"),
        ("ssh-login", "failure", "oracle", "203.0.113.5"),
        ("ssh-disconnect", None, "oracle", "203.0.113.5"),
        ("pam-auth-failure", "failure", "root", "198.51.100.7"),
        ("ssh-login", "failure", "root", "198.51.100.7"),
        ("ssh-login", "failure", "root", "198.51.100.7"),  # inside "message repeated"
        ("ssh-disconnect", None, "root", "198.51.100.7"),
        ("ssh-login", "success", "alice", "192.0.2.10"),
        ("session-opened", "success", "alice", None),
        (None, None, None, "192.0.2.10"),  # Received disconnect: the peer only
        ("ssh-disconnect", None, "alice", "192.0.2.10"),
        ("session-closed", "success", "alice", None),
    ]
    repeated = sshd[7]
    assert repeated.original["repeated"] == 2
    assert repeated.message is not None and repeated.message.startswith("message repeated 2")
    maxauth = read_all(SY / "rfc3164.log")[0][2]
    assert maxauth.fields["event.action"] == "ssh-max-auth-exceeded"
    assert maxauth.fields["log.syslog.severity.name"] == "Error"


def test_su_forms_and_pam_users() -> None:
    events, _, _ = read_all(SY / "auth.log")
    su = [e for e in events if e.data_type == "syslog:linux:su"]
    assert {e.logsource for e in su} == {LogSource("linux", "auth")}
    assert [(e.fields["event.action"], e.fields["event.outcome"], e.fields["user.name"],
             e.fields["user.effective.name"]) for e in su] == [
        ("pam-auth-failure", "failure", "alice", "root"),
        ("su", "failure", "alice", "root"),
        ("su", "success", "alice", "root"),
        ("session-opened", "success", "alice", "root"),
    ]
    shadow, _ = _parse(b"Mar  4 01:02:03 h su[9]: Successful su for root by bob\n"
                       b"Mar  4 01:02:04 h su[9]: FAILED su for root by eve\n")
    assert [(e.fields["user.name"], e.fields["event.outcome"]) for e in shadow] == [
        ("bob", "success"), ("eve", "failure")]


def test_samba_full_audit_full_event_r7() -> None:
    events, _, _ = read_all(SY / "samba_audit.log", settings=SourceSettings(year=2024))
    assert {e.logsource for e in events} == {LogSource("samba", "full_audit", "file_access")}
    e = events[6]
    assert e.timestamp == datetime(2024, 3, 4, 13, 47, 9, tzinfo=UTC)
    assert e.data_type == "syslog:samba:full_audit"
    assert e.origin.offset == 675
    assert e.fields == {
        "host.name": "fs01",
        "process.name": "smbd_audit",
        "user.name": "mallory",
        "source.ip": "192.168.10.66",
        "source.domain": "pc-mallory",
        "file.share": "keiri",
        "file.path": "/srv/keiri/2024/給与.csv",
        "file.name": "給与.csv",
        "event.category": ["file"],
        "event.type": ["deletion"],
        "event.action": "unlinkat",
        "event.outcome": "failure",
        "event.reason": "Permission denied",
    }
    assert e.original == {
        "timestamp": "Mar  4 22:47:09",
        "hostname": "fs01",
        "program": "smbd_audit",
        "msg": "mallory|192.168.10.66|pc-mallory|keiri|unlinkat|fail (Permission denied)|"
               "/srv/keiri/2024/給与.csv",
        "user": "mallory",
        "ip": "192.168.10.66",
        "machine": "pc-mallory",
        "share": "keiri",
        "operation": "unlinkat",
        "result": "fail (Permission denied)",
        "args": ["/srv/keiri/2024/給与.csv"],
    }
    ops = [(x.fields["event.action"], x.fields.get("file.path"), x.fields["event.type"])
           for x in events]
    assert ops[:5] == [
        ("connect", None, ["access"]),
        ("create_file", "/srv/keiri/2024/予算.xlsx", ["access"]),
        ("openat", "/srv/keiri/2024/予算.xlsx", ["access"]),
        ("mkdirat", "/srv/keiri/2024/archive", ["creation"]),
        ("renameat", "/srv/keiri/2024/old.xlsx", ["change"]),
    ]
    assert events[0].fields["file.share"] == "keiri"
    # The module's built-in default prefix %u|%I: no machine, no share.
    default = events[9]
    assert default.fields["user.name"] == "bob" and "file.share" not in default.fields
    assert default.fields["file.path"] == "/srv/public/readme.txt"
    # smbd's own (non-audit) lines stay plain syslog.
    plain, _ = _parse(b"Mar  4 01:02:03 fs01 smbd[77]: smbd version 4.17.12 started.\n")
    assert plain[0].logsource == LogSource("linux", "syslog")


def test_rfc3164_year_inference() -> None:
    data = (SY / "auth.log").read_bytes()
    # From the file's mtime: December lines in a January file are last year's.
    events, _ = _parse(data, mtime=datetime(2025, 1, 2, 3, 0, tzinfo=UTC))
    assert events[0].timestamp == datetime(2024, 12, 31, 14, 58, 1, tzinfo=UTC)
    assert events[-1].timestamp == datetime(2024, 12, 31, 15, 10, 2, tzinfo=UTC)  # Jan 1 JST
    # An explicit year is used as is.
    fixed, _ = _parse(data, mtime=datetime(2025, 1, 2, tzinfo=UTC),
                      source_settings=SourceSettings(year=2019))
    assert fixed[0].timestamp.year == 2019 and fixed[-1].timestamp == datetime(
        2018, 12, 31, 15, 10, 2, tzinfo=UTC)
    # Without mtime: the current year, unless the month is still to come.
    now = datetime.now(UTC).astimezone(SourceSettings().tz)
    line = f"{now:%b} {now.day:2d} 00:00:01 h app: x\n".encode()
    current, _ = _parse(line)
    assert current[0].timestamp.astimezone(SourceSettings().tz).year == now.year
    # The zone is the configured one.
    utc, _ = _parse(data, mtime=datetime(2025, 1, 2, tzinfo=UTC),
                    source_settings=SourceSettings(timezone="UTC"))
    assert utc[0].timestamp == datetime(2024, 12, 31, 23, 58, 1, tzinfo=UTC)


def test_rfc3339_and_japanese_text_survive() -> None:
    events, _, _ = read_all(SY / "precise.log")
    assert events[0].timestamp == datetime(2024, 3, 3, 23, 59, 58, 120417, tzinfo=UTC)
    app = events[6]
    assert app.message == "注文 #4521 を処理しました"
    assert app.logsource == LogSource("linux", "syslog")
    assert app.data_type == "syslog:linux:line"
    five, _, _ = read_all(SY / "rfc5424.log")
    backup = five[7]
    assert backup.message == "バックアップが完了しました (1204 件)"
    assert backup.original["sd.job@32473.name"] == "nightly"
    assert backup.original["sd.job@32473.files"] == "1204"
    assert backup.fields["log.syslog.msgid"] == "JOB42"
    assert backup.fields["log.syslog.facility.name"] == "local0"
    bsd, _, _ = read_all(SY / "rfc3164.log")
    assert bsd[6].message == "ログイン画面を表示しました"


def test_envelope_variants() -> None:
    events, warnings = _parse(
        b'<13>1 2024-03-04T01:02:03Z - app - - [a@1 k="x\\"y\\]z" e=""][b@2] msg\n'
        b"<165>1 - host app 12 ID7 - \xef\xbb\xbfBOM text\n"
        b"<13>Mar  4 01:02:03 prog[12]: no hostname\n"
        b"Mar  4 01:02:03 host -- MARK --\n"
        b"2024-03-04T01:02:03 host prog: naive ISO time\n",
        mtime=datetime(2024, 5, 1, tzinfo=UTC))
    assert not warnings
    sd, nil, hostless, mark, naive = events
    assert sd.original["sd.a@1.k"] == 'x"y]z' and sd.original["sd.a@1.e"] == ""
    assert sd.message == "msg" and "host.name" not in sd.fields
    assert nil.timestamp == datetime(2024, 5, 1, tzinfo=UTC)  # NILVALUE: the file's time
    assert nil.message == "BOM text" and nil.fields["log.syslog.facility.name"] == "local4"
    assert hostless.fields["process.name"] == "prog" and "host.name" not in hostless.fields
    assert mark.message == "-- MARK --" and "process.name" not in mark.fields
    assert naive.timestamp == datetime(2024, 3, 3, 16, 2, 3, tzinfo=UTC)


def test_broken_lines_become_warnings_and_neighbours_are_kept() -> None:
    lines = (SY / "auth.log").read_bytes().splitlines(keepends=True)
    garbage = b"\x00\xff\xfe\x8a\x13 binary garbage\n"
    truncated = b"Jan  1 00:0\n"
    data = b"".join([*lines[:5], garbage, *lines[5:10], truncated, *lines[10:]])
    source = SourceFile.from_bytes("auth-broken.log", data)
    warnings: list[ParseWarning] = []
    from kizuki.sources import Reader

    reader = Reader(sink=warnings.append)
    events = list(reader.read_source(source))
    assert len(events) == COUNTS["auth.log"]
    garbage_at = sum(map(len, lines[:5]))
    truncated_at = garbage_at + len(garbage) + sum(map(len, lines[5:10]))
    assert [(w.offset, w.kind) for w in warnings] == [
        (garbage_at, "bad-syslog"), (truncated_at, "bad-syslog")]
    assert reader.stats.files[0].warnings == 2
    after = next(e for e in events if e.origin.offset == garbage_at + len(garbage))
    assert after.fields["event.action"] == "pam-auth-failure"
    bad, warned = _parse(b"<999>Mar  4 01:02:03 h a: x\nFeb 30 01:02:03 h a: x\n"
                         b'<13>1 2024-03-04T01:02:03Z h a - - [broken sd\n')
    assert not bad and [w.kind for w in warned] == [
        "bad-syslog", "bad-timestamp", "bad-structured-data"]


def test_sniffing_picks_syslog_and_only_syslog() -> None:
    for name, fmt in FORMATS.items():
        src = SourceFile.from_bytes(name, (SY / name).read_bytes())
        parser, _ = registry.sniff(src.head(), src.name)
        assert parser is not None and parser.NAME == fmt, name
    mine = {"syslog-rfc3164", "syslog-rfc5424"}
    for path in sorted(DATA.rglob("*")):
        if not path.is_file() or path.parent == SY or path.suffix == ".md":
            continue
        src = SourceFile.from_bytes(path.name, path.read_bytes())
        parser, _ = registry.sniff(src.head(), src.name)
        assert parser is None or parser.NAME not in mine, path


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_any_bytes_cost_at_most_their_line(chunks: list[bytes]) -> None:
    data = b"\n".join(c.replace(b"\n", b" ") for c in chunks)
    events, warnings = _parse(data + b"\nMar  4 01:02:03 h app: ok\n")
    assert events[-1].message == "ok"
    assert len(events) + len(warnings) <= len(chunks) + 1


@pytest.mark.parametrize("name", ["auth.log", "samba_audit.log"])
def test_events_serialize(name: str) -> None:
    import orjson

    events, _, _ = read_all(SY / name)
    for e in events:
        d = orjson.loads(orjson.dumps(e.to_dict()))
        assert d["kizuki"]["logsource"]["product"] in {"linux", "samba"}
