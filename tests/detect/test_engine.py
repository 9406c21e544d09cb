"""The engine core: one result whatever the batch sizes and arrival order (issue 3 item 6)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.detect import Engine, EngineSettings
from kizuki.model import Alert, AlertKind, Event, Evidence, LogSource, Origin
from kizuki.rules import CompiledRule, RuleIndex, rules_from_yaml
from tests.conftest import feed_in_batches

RULE = """
title: Failed logon
id: 3b8c3d1e-0000-4000-8000-000000000001
status: test
level: low
tags: [attack.credential_access, attack.t1110]
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4625}
  condition: selection
"""
T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


def rules() -> list[CompiledRule]:
    loaded = rules_from_yaml(RULE)
    assert not loaded.errors
    return loaded.rules


def event(i: int, seconds: int, code: int = 4625, user: str = "alice") -> Event:
    return Event(
        timestamp=T0 + timedelta(seconds=seconds),
        data_type="windows:json:record",
        fields={"event.code": str(code), "user.name": user, "host.name": "DC01"},
        original={"EventID": code, "Channel": "Security", "TargetUserName": user},
        logsource=LogSource("windows", "security"),
        origin=Origin("security.jsonl", i * 100),
    )


class Burst:
    """A toy stateful detector: ≥ 3 matches within 60 s, in event-time order."""

    def __init__(self) -> None:
        self.window: deque[Event] = deque()
        self.order: list[int] = []

    def advance(self, watermark: datetime) -> Iterable[Alert]:
        while self.window and self.window[0].timestamp < watermark - timedelta(seconds=60):
            self.window.popleft()
        return ()

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        return ()

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> Iterable[Alert]:
        self.order.append(event.origin.offset or 0)
        self.window.append(event)
        if len(self.window) < 3:
            return ()
        evidence = [Evidence(e, "burst") for e in self.window]
        self.window.clear()
        return [Alert(AlertKind.correlation, "burst", "Burst", "medium", 45.0,
                      {"user": "alice"}, evidence[0].event.timestamp, event.timestamp,
                      evidence)]


def run(events: list[Event], batches: list[int], lateness: timedelta | None
        ) -> tuple[list[str], list[int]]:
    burst = Burst()
    engine = Engine(RuleIndex(rules()), [burst], EngineSettings(lateness=lateness))
    alerts = feed_in_batches(engine, events, batches)
    assert engine.late_events == 0
    return sorted(a.id for a in alerts), burst.order


STREAM = [event(i, t) for i, t in enumerate(
    [0, 5, 9, 30, 200, 205, 206, 400, 430, 470, 471, 900, 901, 902, 903, 1500])]
STREAM.insert(3, event(99, 7, code=4624))  # a non-matching event in the middle


def test_rule_alerts_carry_rule_metadata() -> None:
    engine = Engine(RuleIndex(rules()))
    alerts = engine.run(STREAM)
    assert len(alerts) == 16 and engine.events_matched == 16 and engine.events_seen == 17
    a = alerts[0]
    assert a.kind is AlertKind.rule and a.rule_title == "Failed logon"
    assert a.attack == ("T1110",) and a.tactics == ("credential-access",)
    assert a.entity == {"host": "DC01", "user": "alice"}
    assert a.evidence[0].event.origin.offset == 0
    assert a.to_dict()["rule"] == {"id": "3b8c3d1e-0000-4000-8000-000000000001",
                                   "title": "Failed logon"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=7), max_size=8), st.randoms())
def test_same_alerts_whatever_batches_and_order_within_lateness(
    batches: list[int], rnd: object
) -> None:
    reference = run(STREAM, [], None)
    lateness = timedelta(seconds=120)
    # Shuffle only among events less than `lateness` apart: the guarantee's scope.
    shuffled = sorted(STREAM, key=lambda e: (e.timestamp.timestamp() // 100
                                            + rnd.random() * 0.5))  # type: ignore[attr-defined]
    assert run(shuffled, batches, lateness) == reference
    assert run(STREAM, batches, None) == reference


def test_events_beyond_the_lateness_are_counted_not_reordered() -> None:
    engine = Engine(RuleIndex(rules()), [Burst()], EngineSettings(lateness=timedelta(seconds=10)))
    engine.feed(STREAM[5:])
    engine.feed(STREAM[:5])
    engine.close()
    # Five events came late; the one that matches no rule costs nothing and is not counted.
    assert engine.late_events == 4
