"""Risk accumulation from data files: alerts in, risk alerts out (issue 3 item 4, R16)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.context import Assets, Calendar, Context
from kizuki.detect import Engine, EngineSettings
from kizuki.detect.engine import END_OF_TIME
from kizuki.detect.risk import (
    RULE_TACTICS,
    RULE_THRESHOLD,
    AssetsLike,
    CalendarLike,
    RiskDetector,
    RiskSettings,
)
from kizuki.model import Alert, AlertKind, Event, Evidence, LogSource, Origin
from kizuki.model.event import format_ts
from kizuki.rules import RuleIndex, rules_from_yaml
from tests.conftest import feed_in_batches

DATA = Path(__file__).parent / "data" / "risk"
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "cases.yml").read_text("utf-8"))
JST = ZoneInfo("Asia/Tokyo")


class StubCalendar:
    """Night 22:00–06:00 JST, off hours 18:00–09:00 JST and weekends, listed holidays."""

    def __init__(self, holidays: list[str]) -> None:
        self.holidays = {date.fromisoformat(d) for d in holidays}

    def is_night(self, ts: datetime) -> bool:
        hour = ts.astimezone(JST).hour
        return hour >= 22 or hour < 6

    def is_holiday(self, ts: datetime) -> bool:
        return ts.astimezone(JST).date() in self.holidays

    def is_off_hours(self, ts: datetime) -> bool:
        local = ts.astimezone(JST)
        return local.weekday() >= 5 or local.hour >= 18 or local.hour < 9


@dataclass(frozen=True)
class StubAsset:
    criticality: str | None


class StubAssets:
    """Criticality by short host name."""

    def __init__(self, levels: dict[str, str]) -> None:
        self.levels = levels

    def get(self, host: str | None) -> StubAsset | None:
        level = self.levels.get(host or "")
        return StubAsset(level) if level else None


@dataclass
class StubContext:
    """Implements kizuki.detect.risk.RiskContext for tests."""

    calendar: CalendarLike | None = None
    assets: AssetsLike | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def make_settings(raw: dict[str, Any] | None) -> RiskSettings:
    kwargs: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        if key.endswith("_hours"):
            kwargs[key[:-6]] = None if value is None else timedelta(hours=value)
        else:
            kwargs[key] = value
    return RiskSettings(**kwargs)


def make_context(raw: dict[str, Any] | None) -> StubContext | None:
    if raw is None:
        return None
    return StubContext(StubCalendar(raw.get("holidays", [])),
                       StubAssets(raw.get("criticality", {})))


def make_alert(i: int, raw: dict[str, Any]) -> Alert:
    at = ts(raw["at"])
    fields = {k: v for k, v in (("host.name", raw.get("host")),
                                ("user.name", raw.get("user"))) if v}
    event = Event(at, "test:risk", fields, {}, LogSource("windows", "security"),
                  Origin("alerts.jsonl", i * 100))
    entity = {k: raw[k] for k in ("host", "user") if raw.get(k)}
    tactics = tuple(raw.get("tactics", ()))
    return Alert(AlertKind(raw.get("kind", "rule")), raw["rule"], f"Rule {raw['rule']}",
                 "high", float(raw["score"]), entity, at, at, [Evidence(event, raw["rule"])],
                 attack=("T1078",), tactics=tactics)


def feed(detector: RiskDetector, alerts: list[Alert]) -> list[Alert]:
    out: list[Alert] = []
    for alert in alerts:
        out.extend(detector.advance(alert.last_seen))
        out.extend(detector.on_alert(alert))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_risk_case(case: dict[str, Any]) -> None:
    detector = RiskDetector(make_settings(case.get("settings")),
                            make_context(case.get("context")))
    alerts = [make_alert(i, raw) for i, raw in enumerate(case["alerts"])]
    raised = feed(detector, alerts)
    if "advance" in case:
        raised.extend(detector.advance(ts(case["advance"])))
    assert all(a.kind is AlertKind.risk for a in raised)
    got = [(a.rule_id, a.entity, format_ts(a.last_seen)) for a in raised]
    want = [(e["rule"], e["entity"], format_ts(ts(e["last_seen"]))) for e in case["expect"]]
    assert got == want
    for alert, expected in zip(raised, case["expect"], strict=True):
        if "stages" in expected:
            assert [ev.stage for ev in alert.evidence] == expected["stages"]
        if "severity" in expected:
            assert alert.severity == expected["severity"]
        if "score" in expected:
            assert alert.score == pytest.approx(expected["score"], abs=0.1)
        if "tactics" in expected:
            assert list(alert.tactics) == expected["tactics"]
        # Every contributing alert is named in the explanation and the context.
        contributions = alert.context["contributions"]
        assert len(contributions) == len(alert.evidence)
        for ev in alert.evidence:
            assert f"({ev.stage})" in alert.explanation
    if "entities_after" in case:
        assert detector.entity_count == case["entities_after"]


def test_risk_alert_shape() -> None:
    """A risk alert: evidence = first events of its contributors, context, stable id."""
    case = CASES[0]
    alerts = [make_alert(i, raw) for i, raw in enumerate(case["alerts"])]
    first = feed(RiskDetector(RiskSettings()), alerts)
    again = feed(RiskDetector(RiskSettings()), alerts)
    assert [a.id for a in first] == [a.id for a in again]
    assert len({a.id for a in first}) == len(first)
    alert = first[0]
    assert alert.kind is AlertKind.risk and alert.rule_id == RULE_THRESHOLD
    assert alert.first_seen == alerts[0].last_seen
    assert [ev.event.origin.display for ev in alert.evidence] == [
        "alerts.jsonl@0", "alerts.jsonl@100"]
    assert alert.attack == ("T1078",)
    ctx = alert.context
    assert ctx["threshold"] == 100.0 and ctx["half_life_hours"] == 24.0
    assert [c["alert"] for c in ctx["contributions"]] == [a.id for a in alerts]
    assert alert.to_dict()["kind"] == "risk"


def test_context_weights_are_explained() -> None:
    context = StubContext(StubCalendar([]), StubAssets({"db-01": "critical"}))
    night = make_alert(0, {"at": "2026-11-02T17:00:00Z", "rule": "r", "score": 45,
                           "host": "db-01"})
    (alert,) = feed(RiskDetector(RiskSettings(), context), [night])
    assert alert.score == pytest.approx(180.0)
    assert alert.severity == "high"
    (contribution,) = alert.context["contributions"]
    assert contribution["weights"] == {"criticality:critical": 2.0, "night": 2.0}
    assert "×2 criticality:critical ×2 night" in alert.explanation
    assert "2026-11-03 02:00:00 JST" in alert.explanation


def test_tiers_and_unknown_criticality() -> None:
    """Weights are looked up by the criticality's text; a level not named weighs 1."""
    settings_ = RiskSettings(criticality_weights={"1": 3.0})
    context = StubContext(None, StubAssets({"a": "1", "b": "unheard-of"}))
    detector = RiskDetector(settings_, context)
    out = feed(detector, [make_alert(0, {"at": "2026-11-02T01:00:00Z", "rule": "r",
                                         "score": 40, "host": "a"}),
                          make_alert(1, {"at": "2026-11-02T01:00:00Z", "rule": "r",
                                         "score": 40, "host": "b"})])
    assert [a.entity for a in out] == [{"host": "a"}]
    assert detector.risk_of("host", "B.corp.example.jp") == pytest.approx(40.0)


ALERT_TIMES = st.lists(st.integers(min_value=0, max_value=24 * 8), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(hours=ALERT_TIMES, scores=st.lists(st.sampled_from([5, 20, 45, 70, 90]), min_size=25,
                                          max_size=25),
       advance_mask=st.lists(st.booleans(), min_size=25, max_size=25))
def test_eviction_cadence_does_not_change_alerts(hours: list[int], scores: list[int],
                                                 advance_mask: list[bool]) -> None:
    """However often the engine advances (and evicts), the same alerts come out."""
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    tactics = ["execution", "persistence", "discovery", "lateral-movement", "collection"]
    alerts = [make_alert(i, {"at": format_ts(t0 + timedelta(hours=h)), "rule": f"r{i % 4}",
                             "score": scores[i], "host": f"ws-0{i % 2}",
                             "tactics": [tactics[i % 5]]})
              for i, h in enumerate(sorted(hours))]
    often = RiskDetector(RiskSettings(half_life=timedelta(hours=6)))
    rarely = RiskDetector(RiskSettings(half_life=timedelta(hours=6)))
    a: list[Alert] = []
    b: list[Alert] = []
    for alert, advance in zip(alerts, advance_mask, strict=False):
        a.extend(often.advance(alert.last_seen))
        a.extend(often.on_alert(alert))
        if advance:
            b.extend(rarely.advance(alert.last_seen))
        b.extend(rarely.on_alert(alert))
    a.extend(often.advance(END_OF_TIME))
    b.extend(rarely.advance(END_OF_TIME))
    assert [x.id for x in a] == [x.id for x in b]
    assert [x.score for x in a] == [x.score for x in b]
    assert often.entity_count == rarely.entity_count == 0


RULES = """
title: Whoami run
id: 00000000-0000-4000-8000-0000000000a1
level: informational
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\whoami.exe'}
  condition: selection
---
title: Encoded PowerShell
id: 00000000-0000-4000-8000-0000000000a2
level: high
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: process_creation}
detection:
  selection: {CommandLine|contains: ' -enc '}
  condition: selection
"""


def process_event(i: int, minutes: int, image: str, command: str) -> Event:
    return Event(
        timestamp=datetime(2026, 11, 2, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        data_type="windows:evtx:record",
        fields={"host.name": "WS-05.corp.example.jp", "user.name": "CORP\\alice",
                "process.executable": image, "event.code": "1"},
        original={"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
                  "Image": image, "CommandLine": command},
        logsource=LogSource("windows", None, "process_creation"),
        origin=Origin("sysmon.evtx", i),
    )


def test_in_the_engine_weak_matches_count_once() -> None:
    """Through the engine: unalerted (informational) matches add risk, alerted ones once."""
    loaded = rules_from_yaml(RULES)
    assert not loaded.errors, loaded.errors
    events = [process_event(1, 0, "C:\\Windows\\System32\\whoami.exe", "whoami"),
              process_event(2, 5, "C:\\Windows\\powershell.exe", "powershell -enc AAA"),
              process_event(3, 9, "C:\\Windows\\System32\\whoami.exe", "whoami /all")]
    risk = RiskDetector(RiskSettings(threshold=75.0, min_tactics=2))
    engine = Engine(RuleIndex(loaded.rules), [risk], EngineSettings())
    alerts = engine.run(events)
    rule_alerts = [a for a in alerts if a.kind is AlertKind.rule]
    assert [a.rule_title for a in rule_alerts] == ["Encoded PowerShell"]
    risk_alerts = [(a.rule_id, a.entity) for a in alerts if a.kind is AlertKind.risk]
    assert risk_alerts == [
        (RULE_TACTICS, {"host": "ws-05"}), (RULE_TACTICS, {"user": "alice"}),
        (RULE_THRESHOLD, {"host": "ws-05"}), (RULE_THRESHOLD, {"user": "alice"}),
    ]
    host_threshold = next(a for a in alerts if a.rule_id == RULE_THRESHOLD)
    # 5 (whoami) + 70 (powershell, once) + 5 (whoami) with a few minutes of decay.
    assert host_threshold.score == pytest.approx(79.84, abs=0.01)
    assert [c["kind"] for c in host_threshold.context["contributions"]] == [
        "match", "rule", "match"]


def test_with_the_real_context() -> None:
    """kizuki.context.Context satisfies RiskContext: its calendar and assets weigh risk."""
    context = Context(calendar=Calendar(),
                      assets=Assets.from_records([{"host": "FS01", "criticality": 1}]))
    detector = RiskDetector(RiskSettings(), context)
    # 2026-11-03 10:00 JST: Culture Day (public holiday), business hours otherwise.
    holiday = make_alert(0, {"at": "2026-11-03T01:00:00Z", "rule": "r", "score": 45,
                             "host": "fs01.corp.example.jp"})
    (alert,) = feed(detector, [holiday])
    (contribution,) = alert.context["contributions"]
    assert contribution["weights"] == {"criticality:critical": 2.0, "holiday": 1.5}
    assert alert.score == pytest.approx(135.0)


@settings(max_examples=30, deadline=None)
@given(order=st.permutations(list(range(12))), cuts=st.lists(st.integers(1, 5), max_size=6))
def test_in_the_engine_batches_and_arrival_order_do_not_matter(order: list[int],
                                                              cuts: list[int]) -> None:
    """Risk through the engine: any batching and arrival order within the lateness."""
    loaded = rules_from_yaml(RULES)
    kinds = [("C:\\Windows\\System32\\whoami.exe", "whoami"),
             ("C:\\Windows\\powershell.exe", "powershell -enc AAA")]
    events = [process_event(i, i * 7, *kinds[i % 3 == 0]) for i in range(12)]

    def run(stream: list[Event], sizes: list[int]) -> list[str]:
        risk = RiskDetector(RiskSettings(threshold=120.0, min_tactics=2,
                                         half_life=timedelta(minutes=30)))
        engine = Engine(RuleIndex(loaded.rules), [risk],
                        EngineSettings(lateness=timedelta(hours=3)))
        return [a.id for a in feed_in_batches(engine, stream, sizes)
                if a.kind is AlertKind.risk]

    expected = run(events, [])
    assert expected  # the case is not vacuous
    assert run([events[i] for i in order], cuts) == expected


def test_a_long_explanation_lists_the_largest_contributions() -> None:
    """Hundreds of contributions: people read the 20 largest, programs get them all."""
    from kizuki.detect.risk import EXPLAIN_AT_MOST

    det = RiskDetector(RiskSettings(threshold=2_000.0, min_tactics=99,
                                    max_contributions=1_000))
    raws = [{"at": f"2026-11-02T10:{i // 60:02d}:{i % 60:02d}Z", "rule": f"r{i % 7}",
             "host": "ws-01", "score": 90 if i == 150 else 10} for i in range(300)]
    risk = [a for a in feed(det, [make_alert(i, r) for i, r in enumerate(raws)])
            if a.kind is AlertKind.risk]
    assert risk
    alert = risk[0]
    listed = [line for line in alert.explanation.splitlines() if line.startswith("- 2026")]
    assert len(listed) == EXPLAIN_AT_MOST
    assert any("“Rule r3”" in line and "→ 9" in line for line in listed)  # the 90, decayed
    assert "smaller contribution(s)" in alert.explanation
    assert len(alert.context["contributions"]) > EXPLAIN_AT_MOST
    assert len(alert.evidence) == len(alert.context["contributions"])
