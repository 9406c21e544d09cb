"""Correlations over streams: determinism, bounded memory, real data, load errors (issue 3).

The data-driven semantics live in ``test_correlation_data.py``; here: the same alerts
whatever the batch sizes and the arrival order within the lateness (issue 3 item 6),
state bounded on an endless stream (item 7), a real EVTX sample through Reader + Engine,
and correlations that cannot run being reported, not run.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.detect import Engine, EngineSettings
from kizuki.detect.correlation import CorrelationDetector
from kizuki.detect.windows import percentile
from kizuki.model import Alert, AlertKind, Event, LogSource, Origin
from kizuki.rules import RuleIndex, load_ruleset, rules_from_yaml
from kizuki.sources import Reader, SourceSettings
from tests.conftest import feed_in_batches
from tests.detect.test_correlation_data import T0

ROOT = Path(__file__).resolve().parents[2]
REAL = Path(__file__).parent / "data" / "correlation" / "real" / "mr_windows_bruteforce.yml"
SAMPLE = ROOT / "samples" / "windows" / "T1110-bruteforce-4776-4625.evtx"

_RULES = "\n---\n".join(f"""
title: Kind {k}
name: kind_{k}
logsource: {{product: test, service: stream}}
detection:
  selection: {{kind: {k}}}
  condition: selection
""" for k in "abc")

_CORRELATIONS = """
---
title: Many
name: many
correlation: {type: event_count, rules: [kind_a, kind_b], group-by: [User], timespan: 2m,
              condition: {gte: 3}}
---
title: Few
name: few
correlation: {type: event_count, rules: [kind_c], group-by: [User], timespan: 3m,
              condition: {lte: 1}}
---
title: Hosts
name: hosts
correlation: {type: value_count, rules: [kind_a], group-by: [User], timespan: 5m,
              condition: {field: host.name, gte: 2}}
---
title: All three
name: all_three
correlation: {type: temporal, rules: [kind_a, kind_b, kind_c], group-by: [User],
              timespan: 4m}
---
title: In order
name: in_order
correlation: {type: temporal_ordered, rules: [kind_a, kind_b, kind_c], group-by: [User],
              timespan: 4m}
---
title: Bytes
name: bytes_sum
correlation: {type: value_sum, rules: [kind_b], group-by: [User], timespan: 3m,
              condition: {field: bytes, gte: 150}}
---
title: Median
name: median
correlation: {type: value_median, rules: [kind_a, kind_b], group-by: [User], timespan: 3m,
              condition: {field: bytes, gt: 60}}
---
title: P90
name: p90
correlation: {type: value_percentile, rules: [kind_a], group-by: [User], timespan: 3m,
              condition: {field: bytes, percentile: 90, eq: 99}}
---
title: Repeated bursts
name: bursts
correlation: {type: event_count, rules: [many], group-by: [User], timespan: 30m,
              generate: true, condition: {gte: 2}}
"""
LOADED = rules_from_yaml(_RULES + _CORRELATIONS)
# For the endless stream: one eager count, one ordered chain, one window decided at close.
ENDLESS = rules_from_yaml(_RULES + """
---
title: Many
name: many
correlation: {type: event_count, rules: [kind_a], group-by: [User], timespan: 5m,
              condition: {gte: 9}}
---
title: In order
name: in_order
correlation: {type: temporal_ordered, rules: [kind_b, kind_c], group-by: [User],
              timespan: 1m}
---
title: Few
name: few
correlation: {type: value_count, rules: [kind_c], group-by: [User], timespan: 3m,
              condition: {field: host.name, lte: 1}}
""")


def _event(n: int, seconds: int, kind: str, user: str, host: str, value: int) -> Event:
    return Event(
        timestamp=T0 + timedelta(seconds=seconds),
        data_type="test:stream",
        fields={"host.name": host},
        original={"kind": kind, "User": user, "bytes": value},
        logsource=LogSource("test", "stream"),
        origin=Origin("stream.jsonl", n),
    )


def _run(events: list[Event], batches: list[int], lateness: timedelta | None
         ) -> list[tuple[str, str, tuple[int, ...]]]:
    detector = CorrelationDetector(LOADED.correlations, LOADED.rules)
    assert not detector.errors
    engine = Engine(RuleIndex(LOADED.rules), [detector],
                    EngineSettings(lateness=lateness, silent_rules=detector.silent_rules()))
    alerts = feed_in_batches(engine, events, batches)
    assert engine.late_events == 0
    return sorted((a.id, a.rule_id, tuple(ev.event.origin.offset or 0 for ev in a.evidence))
                  for a in alerts if a.kind is AlertKind.correlation)


_STEP = st.tuples(st.integers(0, 50), st.sampled_from("abc"), st.sampled_from(["u1", "u2"]),
                  st.sampled_from(["h1", "h2"]), st.integers(0, 100))


@settings(max_examples=60, deadline=None)
@given(st.lists(_STEP, min_size=1, max_size=60),
       st.lists(st.integers(1, 9), max_size=10), st.randoms())
def test_same_alerts_whatever_batches_and_order_within_lateness(
    steps: list[tuple[int, str, str, str, int]], batches: list[int], rnd: random.Random
) -> None:
    """Issue 3 item 6: re-batching and shuffling within the lateness change nothing."""
    events: list[Event] = []
    clock = 0
    for n, (gap, kind, user, host, value) in enumerate(steps):
        clock += gap
        events.append(_event(n, clock, kind, user, host, value))
    reference = _run(events, [], None)
    # Shuffle only among events less than the lateness apart (100 s buckets, 120 s).
    shuffled = sorted(events, key=lambda e: e.timestamp.timestamp() // 100 + rnd.random() / 2)
    assert _run(shuffled, batches, timedelta(seconds=120)) == reference
    assert _run(events, batches, None) == reference


def test_state_stays_bounded_on_an_endless_stream() -> None:
    """Issue 3 item 7: 1M matches over 11 days; state holds one timespan of them at most."""
    detector = CorrelationDetector(ENDLESS.correlations, ENDLESS.rules)
    rules = {r.name: r for r in ENDLESS.rules}
    kinds = [rules["kind_a"], rules["kind_b"], rules["kind_c"]]
    users = [f"u{i}" for i in range(20)]
    rnd = random.Random(7)
    peak = 0
    alerts = 0
    for n in range(1_000_000):
        kind = rnd.randrange(3)
        event = _event(n, n, "abc"[kind], users[rnd.randrange(20)], "h1",
                       rnd.randrange(100))
        alerts += len(detector.on_event(event, [kinds[kind]]))
        if n % 50_000 == 0:
            peak = max(peak, detector.state_size())
    # One event a second: the longest window (5 min) holds a few hundred entries,
    # whatever the stream's length.
    assert 0 < peak < 1_000, peak
    assert alerts > 1000
    list(detector.advance(T0 + timedelta(days=30)))
    assert detector.state_size() == 0


def test_real_bruteforce_sample_through_reader_and_engine() -> None:
    """A real EVTX brute force (T1110) raises the correlation alerts, with its records."""
    loaded = load_ruleset([REAL])
    assert not loaded.errors and len(loaded.correlations) == 3
    detector = CorrelationDetector(loaded.correlations, loaded.rules)
    assert not detector.errors
    assert detector.silent_rules() == {"6a7c3e0e-5b0c-4d7e-9d3f-2f6f0a1b7c01",
                                       "windows_failed_logon"}
    events = list(Reader(SourceSettings()).read([SAMPLE]))
    engine = Engine(RuleIndex(loaded.rules), [detector],
                    EngineSettings(silent_rules=detector.silent_rules()))
    alerts = engine.run(events)
    assert all(a.kind is AlertKind.correlation for a in alerts)
    by_rule: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_rule.setdefault(alert.rule_id, []).append(alert)
    (host,) = by_rule["6a7c3e0e-5b0c-4d7e-9d3f-2f6f0a1b7c02"]
    assert host.entity == {"host": "win"} and len(host.evidence) == 10
    assert host.severity == "high" and host.attack == ("T1110",)
    assert host.tactics == ("credential-access",)
    assert host.evidence[0].stage == "windows_failed_logon"
    assert all(ev.event.origin.path and str(ev.event.origin.path).endswith(".evtx")
               for ev in host.evidence)
    assert "10 “Failed logon” events for host win within 5m (condition ≥ 10)" in \
        host.explanation
    accounts = by_rule["6a7c3e0e-5b0c-4d7e-9d3f-2f6f0a1b7c03"]
    assert sorted(a.entity["user"] for a in accounts) == ["admin", "administrator"]
    assert all(len(a.evidence) == 8 for a in accounts)
    (spray,) = by_rule["6a7c3e0e-5b0c-4d7e-9d3f-2f6f0a1b7c04"]
    assert spray.entity == {"host": "win"}
    assert spray.context["correlation"]["value"] == 2


@pytest.mark.parametrize(("text", "message"), [
    ("correlation: {type: event_count, rules: [nope], group-by: [User], timespan: 1m, "
     "condition: {gte: 2}}", "unknown rule reference(s): nope"),
    ("correlation: {type: value_percentile, rules: [kind_a], group-by: [User], "
     "timespan: 1m, condition: {field: bytes, gte: 2}}", "needs a 'percentile'"),
    ("correlation: {type: temporal_ordered, rules: [kind_a, kind_b], group-by: [User], "
     "timespan: 1m, condition: kind_a and kind_b}", "temporal correlations only"),
])
def test_correlations_that_cannot_run_are_reported(text: str, message: str) -> None:
    loaded = rules_from_yaml(_RULES + "\n---\ntitle: Broken\nname: broken\n" + text +
                             "\n---\ntitle: Outer\nname: outer\ncorrelation: {type: "
                             "event_count, rules: [broken], timespan: 1h, "
                             "condition: {gte: 1}}")
    assert not loaded.errors, loaded.errors
    detector = CorrelationDetector(loaded.correlations, loaded.rules)
    assert [str(e.rule_id) for e in detector.errors] == ["broken", "outer"]
    assert message in str(detector.errors[0])
    assert "cannot run" in str(detector.errors[1])


def test_reference_cycles_are_reported() -> None:
    loaded = rules_from_yaml(_RULES + """
---
title: One
name: one
correlation: {type: event_count, rules: [two], timespan: 1h, condition: {gte: 1}}
---
title: Two
name: two
correlation: {type: event_count, rules: [one], timespan: 1h, condition: {gte: 1}}
""")
    detector = CorrelationDetector(loaded.correlations, loaded.rules)
    assert {e.rule_id for e in detector.errors} == {"one", "two"}
    assert all("cycle" in str(e) for e in detector.errors)


def test_percentile_is_linear_between_closest_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([10, 20], 100) == 20
