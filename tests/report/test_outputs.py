"""Alert outputs: JSON lines, CSV, terminal table and HTML report (issue 3 item 6)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from kizuki.detect.risk import RiskDetector, RiskSettings
from kizuki.model import Alert, AlertKind, Event, Evidence, LogSource, Origin
from kizuki.report import (
    CSV_COLUMNS,
    render_html,
    render_table,
    write_csv,
    write_html,
    write_jsonl,
)

T0 = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)  # 23:30 JST
EVIL = "<script>alert('x')</script>"
JAPANESE = "不正なログオン（田中）"


def event(offset: int, minutes: int, user: str = "tanaka", host: str = "WS-05",
          action: str = "logon-failed", message: str | None = None,
          member: str | None = None) -> Event:
    return Event(
        timestamp=T0 + timedelta(minutes=minutes),
        data_type="windows:evtx:record",
        fields={"host.name": host, "user.name": user, "event.action": action,
                "event.code": "4625"},
        original={"EventID": 4625, "TargetUserName": user},
        logsource=LogSource("windows", "security"),
        origin=Origin("logs/Security.evtx", offset, member),
        message=message,
    )


@pytest.fixture
def alerts() -> list[Alert]:
    malicious = event(1200, 0, user=EVIL, host="=HYPERLINK(\"http://x\")", message=JAPANESE)
    rule = Alert(AlertKind.rule, "rule-1", f"Failed logon {EVIL}", "high", 70.0,
                 {"host": "=HYPERLINK(\"http://x\")", "user": EVIL}, malicious.timestamp,
                 malicious.timestamp, [Evidence(malicious, "rule-1")],
                 attack=("T1110.001",), tactics=("credential-access",),
                 explanation=f"{JAPANESE} {EVIL}", tags=("attack.t1110.001",))
    chain = [event(100, 5), event(200, 15, action="logon"), event(300, 40, action="dns",
                                                                    member="a.zip")]
    scenario = Alert(AlertKind.scenario, "S7", "Password spray then sinkhole", "critical", 95.0,
                     {"host": "ws-05", "user": "tanaka"}, chain[0].timestamp,
                     chain[-1].timestamp,
                     [Evidence(chain[0], "spray"), Evidence(chain[1], "logon"),
                      Evidence(chain[2], "sinkhole")],
                     attack=("T1110.003", "T1071.004"), tactics=("credential-access",),
                     context={"night": True, "criticality": "high", "zone": "sinkhole"},
                     explanation="A spray, a logon, then the sinkhole.", playbook="isolate-pc")
    detector = RiskDetector(RiskSettings())
    risk = list(detector.on_alert(scenario))
    follow = event(400, 60, action="process")
    risk += list(detector.on_alert(Alert(
        AlertKind.rule, "rule-2", "Suspicious process", "medium", 45.0,
        {"host": "WS-05.corp.example.jp", "user": "CORP\\tanaka"}, follow.timestamp,
        follow.timestamp, [Evidence(follow, "rule-2")])))
    assert [a.entity for a in risk] == [{"host": "ws-05"}, {"user": "tanaka"}]
    return [rule, scenario, *risk]


JSONL_KEYS = {"id", "kind", "rule", "severity", "score", "entity", "first_seen", "last_seen",
              "attack", "tactics", "context", "playbook", "explanation", "tags", "evidence"}


def test_jsonl_one_alert_per_line_with_the_documented_keys(alerts: list[Alert]) -> None:
    out = io.StringIO()
    assert write_jsonl(alerts, out) == len(alerts)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(alerts)
    records = [json.loads(line) for line in lines]
    for record, alert in zip(records, alerts, strict=True):
        assert set(record) == JSONL_KEYS
        assert record["id"] == alert.id
        assert record["kind"] == alert.kind.value
        assert record["rule"] == {"id": alert.rule_id, "title": alert.rule_title}
        assert record["first_seen"].endswith("Z") and record["last_seen"].endswith("Z")
        for ev in record["evidence"]:
            assert ev["source"]["path"] == "logs/Security.evtx"
            assert isinstance(ev["source"]["offset"], int)
            assert {"stage", "@timestamp", "host", "user", "action", "data_type"} <= set(ev)
    assert records[0]["entity"]["user"] == EVIL  # JSON keeps the data; readers escape
    assert JAPANESE in lines[0]  # UTF-8, not \u escapes
    scenario = records[1]
    assert scenario["attack"] == ["T1110.003", "T1071.004"]
    assert scenario["evidence"][2]["source"] == {"path": "logs/Security.evtx", "offset": 300,
                                                 "member": "a.zip"}
    assert {r["kind"] for r in records} == {"rule", "scenario", "risk"}


def test_jsonl_full_events(alerts: list[Alert]) -> None:
    out = io.StringIO()
    write_jsonl(alerts[:1], out, full_events=True)
    record = json.loads(out.getvalue())
    assert record["evidence"][0]["event"]["original"]["EventID"] == 4625


def test_csv_parses_with_one_row_per_alert(alerts: list[Alert]) -> None:
    out = io.StringIO(newline="")
    assert write_csv(alerts, out) == len(alerts)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert len(rows) == len(alerts)
    assert tuple(rows[0]) == CSV_COLUMNS
    rule, scenario, risk_host, _ = rows
    assert rule["user"] == EVIL
    assert rule["host"].startswith("'=")  # a formula is neutralised for spreadsheets
    assert scenario["evidence_count"] == "3"
    assert scenario["first_source"] == "logs/Security.evtx"
    assert scenario["first_offset"] == "100"
    assert scenario["attack"] == "T1110.003;T1071.004"
    assert scenario["entity"] == "host=ws-05;user=tanaka"
    assert scenario["playbook"] == "isolate-pc"
    assert risk_host["kind"] == "risk" and float(risk_host["score"]) > 100


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.scripts = 0
        self.external: list[str] = []
        self.charset = False

    VOID = frozenset({"meta", "br", "input", "img", "link", "hr"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("charset") == "utf-8":
            self.charset = True
        if tag == "script":
            self.scripts += 1
            if a.get("src"):
                self.external.append(a["src"] or "")
        if tag in ("link", "img") and (a.get("href") or a.get("src")):
            self.external.append(a.get("href") or a.get("src") or "")
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <line .../> in SVG: not pushed.
        pass

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_escaped_and_well_formed(alerts: list[Alert],
                                                         tmp_path: Path) -> None:
    evts = [ev.event for a in alerts for ev in a.evidence] + [event(999, 90)]
    path = write_html(alerts, tmp_path / "report.html", "Asia/Tokyo", f"Hunt {EVIL} 調査",
                      evts)
    html_text = path.read_text("utf-8")
    parser = _Collect()
    parser.feed(html_text)
    parser.close()
    assert parser.stack == []  # every element closed, in order
    assert parser.charset
    assert parser.scripts == 1 and parser.external == []
    assert "http-equiv=\"Content-Security-Policy\"" in html_text
    for alert in alerts:
        assert f"alert-{alert.id}" in parser.ids
    # Attacker data never reaches the markup raw, but reads back as written.
    assert EVIL not in html_text
    assert "&lt;script&gt;" in html_text
    text = "".join(parser.text)
    assert EVIL in text and JAPANESE in text and "調査" in text
    assert "JST" in text and "2026-11-02 23:30:00" in text  # 14:30Z shown in Tokyo time
    assert "Event timeline" in text and "logs/Security.evtx@999" in text
    assert 'href="https://attack.mitre.org/techniques/T1110/003/"' in html_text
    assert "<svg" in html_text
    # Summary counts per severity and kind.
    assert "critical" in text and "scenario" in text and "risk" in text


def test_html_is_deterministic(alerts: list[Alert]) -> None:
    assert render_html(alerts) == render_html(list(reversed(alerts)))


def test_html_without_alerts() -> None:
    parser = _Collect()
    parser.feed(render_html([]))
    assert parser.stack == []


def test_table_renders_the_evidence_chain(alerts: list[Alert]) -> None:
    console = Console(record=True, width=220, color_system="truecolor")
    console.print(render_table(alerts, "Asia/Tokyo"))
    text = console.export_text(clear=False)
    assert "Password spray then sinkhole" in text
    assert EVIL in text  # shown as written: Text, not markup
    assert "logs/Security.evtx!a.zip@300" in text
    assert "sinkhole" in text and "2026-11-02 23:35:00 JST" in text
    for stage in ("├ spray", "├ logon", "└ sinkhole"):
        assert stage in text
    assert JAPANESE not in text  # messages stay out of the compact table
    styled = console.export_html(inline_styles=True)
    assert "Password spray then sinkhole" in styled


def test_table_caps_evidence() -> None:
    events = [event(i, i) for i in range(30)]
    alert = Alert(AlertKind.correlation, "c", "Burst", "low", 20.0, {"user": "tanaka"},
                  events[0].timestamp, events[-1].timestamp,
                  [Evidence(e, "burst") for e in events])
    console = Console(record=True, width=200)
    console.print(render_table([alert], max_evidence=5))
    assert "… 25 more" in console.export_text()


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed: no headless render")
def test_html_renders_headless(alerts: list[Alert], tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium is not None
    page = write_html(alerts, tmp_path / "report.html", "Asia/Tokyo", "Kizuki 報告")
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000
