"""Memory stays bounded on an endless stream (issue 3 item 7), for every detector at once.

The demo week (all its log sources, its S7 attack and decoys) is replayed week after
week, shifted in time, through one live engine with the whole built-in library: rules,
correlations, every scenario (pivots, learned joins, absent stages) and risk. What the
engine holds (the reorder buffer, correlation windows, scenario chains and joins, risk
entities) must level off after the first weeks instead of growing with the stream.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from kizuki.demo import generate
from kizuki.detect.correlation import CorrelationDetector
from kizuki.detect.hunt import load_detection
from kizuki.detect.risk import RiskDetector
from kizuki.detect.scenario import ScenarioDetector
from kizuki.model import AlertKind, Event
from kizuki.sources import Reader

WEEKS = 6
WEEK = timedelta(days=7)


def _week(tmp_path: Path) -> list[Event]:
    out = tmp_path / "demo"
    generate(out)
    events = list(Reader(sink=lambda w: None).read([out]))
    events.sort(key=lambda e: (e.timestamp, e.origin.display, e.origin.offset or 0))
    return events


def test_state_levels_off_over_an_endless_stream(tmp_path: Path) -> None:
    week = _week(tmp_path)
    detection = load_detection(context_dir=tmp_path / "demo" / "context")
    engine = detection.engine(lateness=timedelta(minutes=5))
    detectors = {type(d): d for d in engine.detectors}
    correlation = detectors[CorrelationDetector]
    scenarios = detectors[ScenarioDetector]
    risk = detectors[RiskDetector]
    assert isinstance(correlation, CorrelationDetector)
    assert isinstance(scenarios, ScenarioDetector)
    assert isinstance(risk, RiskDetector)

    sizes: list[tuple[int, int, int, int]] = []
    scenario_alerts = 0
    for n in range(WEEKS):
        shifted = [replace(e, timestamp=e.timestamp + n * WEEK) for e in week]
        for start in range(0, len(shifted), 2_000):
            for alert in engine.feed(shifted[start:start + 2_000]):
                scenario_alerts += alert.kind is AlertKind.scenario
        sizes.append((engine.pending, correlation.state_size(), scenarios.state_size(),
                      risk.state_size()))
    assert engine.late_events == 0
    # The week's S7 instance is found every week: the replay is a real stream.
    assert scenario_alerts >= WEEKS - 1
    for kind, series in zip(("reorder buffer", "correlations", "scenarios", "risk"),
                            zip(*sizes, strict=True), strict=True):
        settled = max(series[:2])
        # Later weeks hold what the first ones held, give or take the week's edges.
        assert max(series[2:]) <= settled * 1.25 + 10, (kind, series)


def test_engines_of_one_detection_share_no_state(tmp_path: Path) -> None:
    """Engines made from one loaded library are independent: one left half-way through
    a stream changes nothing in another one's alerts (correlation windows included)."""
    week = _week(tmp_path)
    detection = load_detection(context_dir=tmp_path / "demo" / "context")
    clean = detection.engine().run(week)
    half_way = detection.engine()
    half_way.feed(week[: len(week) // 2])
    again = detection.engine()
    assert [a.id for a in again.run(week)] == [a.id for a in clean]
    assert any(a.kind is AlertKind.correlation for a in clean)
    # No detector object is shared: each engine has its own windows, chains and risk.
    shared = {id(d) for d in half_way.detectors} & {id(d) for d in again.detectors}
    assert not shared
