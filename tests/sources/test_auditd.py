"""auditd logs: records grouped per audit id into one event, laid out so that SigmaHQ's
``linux/auditd`` rules run as written (R9)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.model import Event, LogSource
from kizuki.rules import RuleIndex, load_ruleset, rules_from_yaml
from kizuki.sources import Reader, SourceFile, registry
from kizuki.sources.auditd import AuditdParser
from kizuki.sources.base import ParseContext, ParseWarning

from ..conftest import DATA, read_all

AU = DATA / "auditd"
ARP = AU / "sh_arp_cache.log"
ENRICHED = AU / "audit_enriched.log"
AUDITD = LogSource("linux", "auditd")


def _parse(data: bytes) -> tuple[list[Event], list[ParseWarning]]:
    source = SourceFile.from_bytes("audit.log", data)
    warnings: list[ParseWarning] = []
    ctx = ParseContext(source, sink=warnings.append)
    return list(AuditdParser().parse(source, ctx)), warnings


def test_samples_group_records_into_events() -> None:
    for path, count in ((ARP, 2), (ENRICHED, 8)):
        events, reader, warnings = read_all(path)
        assert not warnings and len(events) == count, path
        assert reader.stats.files[0].format == "auditd"
        assert {e.logsource for e in events} == {AUDITD}
        assert {e.data_type for e in events} == {"linux:auditd:event"}
    events, _, _ = read_all(ENRICHED)
    assert [e.origin.offset for e in events] == [0, 240, 1484, 2384, 2625, 3969, 4622, 4870]
    assert [e.original["type"] for e in events] == [
        ["USER_CMD"], ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"],
        ["SYSCALL", "CWD", "PATH", "PROCTITLE"], ["ADD_USER"],
        ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"], ["SYSCALL", "PROCTITLE"],
        ["USER_LOGIN"], ["CONFIG_CHANGE"]]


def test_real_sample_full_event() -> None:
    events, _, _ = read_all(ARP)
    e = events[0]
    assert e.timestamp == datetime(2020, 11, 10, 7, 48, 16, 155000, tzinfo=UTC)
    assert e.origin.offset == 0 and e.origin.path == str(ARP)
    assert e.message == "arp -a"
    assert e.fields == {
        "process.pid": 1631,
        "process.parent.pid": 29002,
        "user.id": "1000",
        "user.effective.id": "1000",
        "user.audit.id": "1000",
        "group.id": "1000",
        "process.name": "arp",
        "process.executable": "/usr/sbin/arp",
        "process.working_directory": "/home/wardog",
        "process.title": "arp -a",
        "process.args": ["arp", "-a"],
        "process.args_count": 2,
        "process.command_line": "arp -a",
        "event.action": "execve",
        "event.category": ["process"],
        "event.type": ["start"],
        "event.outcome": "success",
        "event.sequence": 92733,
    }
    o = e.original
    assert o["type"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert o["msg"] == "audit(1604994496.155:92733)"
    # Flat keys as SigmaHQ rules use them: argv from EXECVE, the syscall's name.
    assert (o["a0"], o["a1"], o["argc"], o["exe"], o["comm"], o["key"]) == (
        "arp", "-a", "2", "/usr/sbin/arp", "arp", "(null)")
    assert o["SYSCALL"] == "execve" and o["syscall"] == "59"
    # SYSCALL's register arguments do not leak into argv (argc is 2: no a2, a3).
    assert "a2" not in o and "a3" not in o
    assert (o["SYSCALL.a0"], o["SYSCALL.a3"]) == ("558e251634a0", "8")
    assert o["name"] == ["/usr/sbin/arp", "/lib64/ld-linux-x86-64.so.2"]
    assert (o["PATH.name"], o["PATH.1.name"], o["PATH.1.item"]) == (
        "/usr/sbin/arp", "/lib64/ld-linux-x86-64.so.2", "1")
    assert o["EXECVE.a1"] == "-a" and o["CWD.cwd"] == "/home/wardog"
    assert o["PROCTITLE.proctitle"] == "arp -a"  # hex 617270002D61, NUL -> space


def test_enriched_records_and_decoding() -> None:
    events, _, _ = read_all(ENRICHED)
    sudo, cat, shadow, useradd, sh, aslr, login, rule = events
    assert sudo.fields["process.command_line"] == "cat /etc/shadow"  # USER_CMD cmd, hex
    assert sudo.fields["user.name"] == "alice" and sudo.fields["event.action"] == "user-cmd"
    assert cat.fields["user.name"] == "root" and cat.fields["user.audit.name"] == "alice"
    assert cat.fields["host.name"] == "srv01" and cat.original["node"] == "srv01"
    assert "file.path" not in cat.fields  # an exec's PATH items are the binary and ld.so
    assert shadow.fields["file.path"] == "/etc/shadow"
    assert shadow.fields["event.action"] == "openat" and shadow.original["key"] == "shadow"
    assert shadow.original["OGID"] == "shadow"
    assert useradd.fields["event.category"] == ["iam"]
    assert useradd.original["ID"] == "bob" and useradd.original["id"] == "1001"
    assert sh.fields["process.args"] == ["sh", "-c", "echo aGVsbG8K | base64 -d"]
    assert sh.original["a2"] == "echo aGVsbG8K | base64 -d"
    assert aslr.original["a0"] == "40000" and aslr.original["SYSCALL"] == "personality"
    assert login.fields == {
        "process.pid": 30450,
        "user.id": "0",
        "process.executable": "/usr/sbin/sshd",
        "user.name": "root",
        "source.ip": "198.51.100.7",
        "event.outcome": "failure",
        "event.action": "user-login",
        "event.category": ["authentication"],
        "event.type": ["start"],
        "event.sequence": 4120,
        "host.name": "srv01",
    }
    assert rule.fields["event.action"] == "config-change"
    assert rule.fields["event.outcome"] == "success"


def test_sigmahq_rule_shapes_match() -> None:
    """Detections copied from SigmaHQ rules/linux/auditd (the layout is what they need)."""
    rules = rules_from_yaml("""
title: lnx_auditd_disable_aslr_protection (selection_syscall)
logsource: {product: linux, service: auditd}
detection:
    selection_syscall: {type: 'SYSCALL', SYSCALL: 'personality', a0: 40000}
    condition: selection_syscall
---
title: lnx_auditd_create_account
logsource: {product: linux, service: auditd}
detection:
    selection_add_user_record_type: {type: 'ADD_USER'}
    condition: selection_add_user_record_type
---
title: execve lower-case type, argv flat
logsource: {product: linux, service: auditd}
detection:
    selection: {type: 'execve', a0: 'sh', a1: '-c', a2|contains: 'base64 -d'}
    condition: selection
---
title: PATH name list
logsource: {product: linux, service: auditd}
detection:
    selection: {type: PATH, name: /etc/shadow}
    condition: selection
---
title: SYSCALL register args must not look like argv
logsource: {product: linux, service: auditd}
detection:
    selection: {type: EXECVE, a3: '8'}
    condition: selection
""", name="auditd-shapes")
    assert not rules.errors, [str(x) for x in rules.errors]
    events = read_all(ENRICHED)[0] + read_all(ARP)[0]
    hits = sorted((r.title, e.original["msg"]) for r, e in RuleIndex(rules.rules).match_all(events))
    assert hits == [
        ("PATH name list", "audit(1709510590.120:4106)"),
        ("execve lower-case type, argv flat", "audit(1709510655.031:4114)"),
        ("lnx_auditd_create_account", "audit(1709510610.550:4110)"),
        ("lnx_auditd_disable_aslr_protection (selection_syscall)", "audit(1709510661.204:4117)"),
    ]


def test_sigmahq_rules_on_shared_dataset(shared_data: Path) -> None:
    rules = load_ruleset([shared_data / "sigma" / "rules" / "linux" / "auditd"])
    dd = (shared_data / "security-datasets" / "datasets" / "atomic" / "linux"
          / "defense_evasion" / "host" / "sh_binary_padding_dd.zip")
    events = read_all(dd)[0]
    assert len(events) == 1
    titles = {r.path.rsplit("/", 1)[-1] for r, _ in RuleIndex(rules.rules).match_all(events)
              if r.path}
    assert {"lnx_auditd_dd_delete_file.yml", "lnx_auditd_binary_padding.yml"} <= titles


def test_split_arguments_eoe_and_syslog_wrapped_records() -> None:
    a1 = "x" * 10 + " y"
    hexed = a1.encode().hex().upper()
    data = (
        "type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=59 success=no "
        'exit=-2 pid=5 ppid=1 uid=0 comm="python3" exe="/usr/bin/python3.11" key=(null)\n'
        f'type=EXECVE msg=audit(1700000000.001:7): argc=2 a0="python3" a1_len={len(a1)} '
        f"a1[0]={hexed[:10]} a1[1]={hexed[10:]}\n"
        "type=EOE msg=audit(1700000000.001:7): \n"
        "Nov 14 22:13:20 web01 audispd: node=web01 type=USER_AUTH msg=audit(1700000000.500:8)"
        ": pid=9 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication "
        'grantors=? acct="deploy" exe="/usr/sbin/sshd" hostname=203.0.113.9 '
        "addr=203.0.113.9 terminal=ssh res=failed'\n"
        "Nov 14 22:13:21 web01 kernel: [ 12.345] audit: type=1400 audit(1700000001.000:9): "
        'apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd" name="/etc/shadow" '
        'pid=812 comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    ).encode()
    events, warnings = _parse(data)
    assert not warnings
    py, auth, avc = events
    assert py.fields["process.args"] == ["python3", a1]
    assert "a1_len" not in py.original and py.fields["event.outcome"] == "failure"
    assert auth.fields["host.name"] == "web01" and auth.fields["user.name"] == "deploy"
    assert auth.original["op"] == "PAM:authentication" and auth.original["type"] == ["USER_AUTH"]
    assert avc.original["type"] == ["AVC"] and avc.fields["host.name"] == "web01"
    assert avc.original["apparmor"] == "DENIED" and avc.original["name"] == "/etc/shadow"
    # Records of syslog-carried audit logs are claimed by this parser, not by syslog.
    parser, score = registry.sniff(data[data.index(b"Nov"):], "syslog")
    assert parser is not None and parser.NAME == "auditd" and score == 85


def test_broken_lines_become_warnings_and_groups_survive() -> None:
    lines = ARP.read_bytes().splitlines(keepends=True)
    garbage = b"\x00\xff garbage \xfe\n"
    truncated = b"type=PROCTITLE msg=audit(1604994496.155:927"
    data = b"".join([*lines[:2], garbage, *lines[2:], truncated])
    warnings: list[ParseWarning] = []
    reader = Reader(sink=warnings.append)
    events = list(reader.read_source(SourceFile.from_bytes("audit.log", data)))
    assert len(events) == 2
    garbage_at = len(lines[0]) + len(lines[1])
    assert [(w.offset, w.kind) for w in warnings] == [
        (garbage_at, "bad-audit-record"), (len(data) - len(truncated), "bad-audit-record")]
    # The bad line sits inside the first event's records: the event is still whole.
    assert events[0].original["type"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert events[1].fields["process.args"] == ["grep", "-v", "^?"]
    assert reader.stats.files[0].warnings == 2


def test_sniffing_picks_auditd_and_only_auditd() -> None:
    for path in (ARP, ENRICHED):
        src = SourceFile.from_bytes(path.name, path.read_bytes())
        parser, score = registry.sniff(src.head(), src.name)
        assert parser is not None and parser.NAME == "auditd" and score == 90
    for path in sorted(DATA.rglob("*")):
        if not path.is_file() or path.parent == AU or path.suffix == ".md":
            continue
        src = SourceFile.from_bytes(path.name, path.read_bytes())
        parser, _ = registry.sniff(src.head(), src.name)
        assert parser is None or parser.NAME != "auditd", path


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_any_bytes_cost_at_most_their_line(chunks: list[bytes]) -> None:
    data = b"\n".join(c.replace(b"\n", b" ") for c in chunks)
    events, warnings = _parse(data + b"\n" + ARP.read_bytes())
    assert events[-1].fields["process.name"] == "grep"
    assert len(warnings) <= len(chunks)
