"""Windows events as JSON lines (Winlogbeat 6/8, OTRF, Log Analytics) and ECS JSON."""

from __future__ import annotations

from pathlib import Path

import orjson

from kizuki.model import LogSource
from kizuki.sources import SourceFile
from kizuki.sources.base import ParseWarning

from ..conftest import DATA, read_all

WJ = DATA / "windows-json"


def test_winlogbeat8_full_event() -> None:
    events, reader, warnings = read_all(WJ / "winlogbeat8_sample.json")
    assert not warnings and len(events) == 3
    assert reader.stats.files[0].format == "windows-json"
    failed = events[0]
    assert failed.fields == {
        "event.code": "4625",
        "event.action": "logon-failed",
        "event.category": ["authentication"],
        "event.type": ["start"],
        "event.outcome": "failure",
        "event.provider": "Microsoft-Windows-Security-Auditing",
        "event.module": "windows",
        "winlog.channel": "Security",
        "host.name": "DC01.corp.example.jp",
        "user.name": "tanaka.hiroshi",
        "user.domain": "CORP",
        "source.ip": "10.1.1.21",
        "source.port": "50522",
        "source.domain": "WS-05",
        "winlog.logon.type": "3",
        "winlog.logon.status": "0xc000006d",
        "winlog.logon.sub_status": "0xc000006a",
    }
    assert failed.original["TargetUserName"] == "tanaka.hiroshi"
    assert failed.original["EventID"] == 4625
    assert failed.logsource == LogSource("windows", "security")
    assert failed.timestamp.isoformat() == "2026-11-02T14:10:05.123000+00:00"
    assert failed.origin.offset == 0
    # IPv4-mapped IPv6 addresses are written as IPv4.
    assert events[1].fields["source.ip"] == "10.1.1.21"
    sysmon = events[2]
    assert sysmon.logsource == LogSource("windows", "sysmon", "process_creation")
    assert sysmon.fields["user.name"] == "tanaka.hiroshi"
    assert sysmon.fields["user.domain"] == "CORP"
    assert sysmon.fields["process.name"] == "cmd.exe"
    assert sysmon.fields["process.parent.executable"].endswith("WINWORD.EXE")


def test_otrf_and_winlogbeat6_and_log_analytics() -> None:
    for name, count in (("otrf_sample.json", 12), ("winlogbeat6_sample.json", 6),
                        ("log_analytics_securityevent.json", 3)):
        events, reader, warnings = read_all(WJ / name)
        assert not warnings, (name, warnings)
        assert len(events) == count, name
        assert reader.stats.files[0].format == "windows-json"
        for e in events:
            assert e.fields["host.name"]
            assert isinstance(e.original["EventID"], int)
            assert e.logsource.product == "windows"
    la, _, _ = read_all(WJ / "log_analytics_securityevent.json")
    # Log Analytics keeps EventData as an XML string: its Data names are expanded.
    assert la[0].original["Channel"] == "Security"
    assert "DestAddress" in la[0].original or "TargetUserName" in la[0].original


def test_bad_lines_become_warnings_and_neighbours_are_kept(tmp_path: Path) -> None:
    lines = (WJ / "winlogbeat8_sample.json").read_bytes().splitlines()
    bad = tmp_path / "mixed.json"
    bad.write_bytes(b"\n".join([lines[0], b'{"winlog": {"channel": "Security", trunc',
                                lines[1], b'{"@timestamp": "yesterday", "winlog": '
                                b'{"channel": "Security", "event_id": "4624"}}', lines[2]]) + b"\n")
    events, reader, warnings = read_all(bad)
    assert len(events) == 3
    assert [w.kind for w in warnings if isinstance(w, ParseWarning)] == ["bad-json", "bad-time"]
    first = warnings[0]
    assert isinstance(first, ParseWarning)
    assert first.offset == len(lines[0]) + 1 and first.source == str(bad)
    assert reader.stats.files[0].warnings == 2


def test_ecs_json_workload_shape() -> None:
    line = (b'{"@timestamp":"2024-03-04T00:10:10.526Z","event":{"code":"4663","category":"file",'
            b'"action":"object-access","outcome":"success"},"host":{"name":"WS-0056"},'
            b'"user":{"name":"user0182"},"file":{"path":"\\\\\\\\fs01\\\\secret\\\\a.xlsx"}}\n')
    events, reader, warnings = read_all(_write(line))
    assert not warnings and reader.stats.files[0].format == "ecs-json"
    e = events[0]
    assert e.fields["event.code"] == "4663" and e.fields["host.name"] == "WS-0056"
    assert e.fields["file.path"] == "\\\\fs01\\secret\\a.xlsx"
    assert e.logsource == LogSource("windows", "security")
    assert orjson.loads(orjson.dumps(e.to_dict()))["file"]["path"] == e.fields["file.path"]


def _write(data: bytes) -> Path:
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".jsonl")
    with open(fd, "wb") as fh:
        fh.write(data)
    return Path(name)


def test_sniffing_keeps_formats_apart() -> None:
    from kizuki.sources import registry

    for path, expected in ((WJ / "winlogbeat8_sample.json", "windows-json"),
                           (WJ / "otrf_sample.json", "windows-json")):
        src = SourceFile.from_bytes(path.name, path.read_bytes())
        parser, _ = registry.sniff(src.head(), src.name)
        assert parser is not None and parser.NAME == expected
    cloudtrail = (b'{"eventTime":"2020-09-14T01:19:40Z","eventSource":"s3.amazonaws.com",'
                  b'"eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4",'
                  b'"userIdentity":{"userName":"pedro"}}\n')
    events, reader, _ = read_all(_write(cloudtrail))
    assert reader.stats.files[0].format == "json"
    assert events[0].logsource == LogSource("aws", "cloudtrail")
    assert events[0].fields["user.name"] == "pedro"
    assert events[0].fields["source.ip"] == "1.2.3.4"
    assert events[0].original["userIdentity.userName"] == "pedro"


def test_shared_security_datasets_read_every_archive(shared_data: Path) -> None:
    """Done-when: `kizuki hunt ../shared/data/security-datasets` reads every archive."""
    root = shared_data / "security-datasets"
    events, reader, _ = read_all(root)
    archives = [p for p in root.rglob("*") if p.suffix.lower() in {".zip", ".gz"}]
    opened = {f.path.split("!", 1)[0] for f in reader.stats.files}
    assert {str(p) for p in archives} <= opened
    kinds = reader.stats.per_warning_kind()
    assert "bad-archive" not in kinds and "unreadable" not in kinds
    assert len(events) > 500_000


def test_event_round_trips_through_its_json_form() -> None:
    """What the vault stores (Event.to_dict) gives back the same event (R13)."""
    from kizuki.model import Event

    for path in (WJ / "winlogbeat8_sample.json", DATA / "firewall" / "kern.log",
                 DATA / "evtx" / "T1136-admin-like-user-created-4720.evtx"):
        events, _, _ = read_all(path)
        for e in events:
            back = Event.from_dict(orjson.loads(orjson.dumps(e.to_dict())))
            assert back.timestamp == e.timestamp
            assert back.fields == e.fields
            assert back.original == e.original
            assert back.logsource == e.logsource
            assert back.origin == e.origin
            assert back.data_type == e.data_type
