"""Issue 3 Done-when: scenario S7 is found in the week `kizuki demo generate` writes, and
none of its decoys raise it (requirements S7, R15, R16; docs/demo.md)."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuki.context import Context
from kizuki.demo import GroundTruth, generate
from kizuki.detect import Engine, EngineSettings
from kizuki.detect.entities import host_key, user_key
from kizuki.detect.scenario import ScenarioDetector
from kizuki.model import Alert, AlertKind, Event
from kizuki.rules import RuleIndex
from kizuki.rules.scenario import ScenarioSet, load_scenarios
from kizuki.sources import Reader, SourceSettings

S7_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "S7"


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth, list[Event]]:
    out = tmp_path_factory.mktemp("demo-s7")
    truth = generate(out)
    events = list(Reader(SourceSettings()).read([out]))
    return out, truth, events


@pytest.fixture(scope="module")
def s7() -> ScenarioSet:
    loaded = load_scenarios([S7_DIR.parent / "common", S7_DIR])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    assert [s.id for s in loaded.scenarios] == ["S7"]
    assert not loaded.unresolved()
    return loaded


def hunt(out: Path, loaded: ScenarioSet, events: list[Event], batches: list[int] | None = None,
         lateness: timedelta | None = None) -> list[Alert]:
    detector = ScenarioDetector(loaded.scenarios, Context.load(out / "context"))
    engine = Engine(RuleIndex(loaded.rules), [detector], EngineSettings(lateness=lateness))
    alerts: list[Alert] = []
    i = 0
    for size in batches or []:
        alerts.extend(engine.feed(events[i:i + size]))
        i += size
    alerts.extend(engine.feed(events[i:]))
    alerts.extend(engine.close())
    assert engine.late_events == 0
    return alerts


def where(out: Path, alert: Alert) -> list[tuple[str, int]]:
    return [(Path(e.event.origin.path).relative_to(out).as_posix(), e.event.origin.offset or 0)
            for e in alert.evidence]


def test_s7_is_found_once_with_its_whole_chain(
        week: tuple[Path, GroundTruth, list[Event]], s7: ScenarioSet) -> None:
    out, truth, events = week
    alerts = hunt(out, s7, events)
    # The S7 rules are informational signals: only the scenario speaks.
    assert [a.kind for a in alerts] == [AlertKind.scenario]
    (alert,) = alerts
    planted = truth.s7
    assert alert.rule_id == "S7" and alert.severity == "high"
    assert alert.entity == {"host": host_key(planted.host), "user": user_key(planted.user)}
    assert where(out, alert) == [(loc.file, loc.offset) for loc in planted.events]
    assert alert.first_seen == planted.file_access_first
    assert alert.evidence[0].stage == "important_file_access"
    assert alert.evidence[-1].stage == "default_route_traffic"
    first_sink = next(e for e in alert.evidence if e.stage == "default_route_traffic")
    assert first_sink.event.timestamp == planted.sinkhole_first
    file_times = [e.event.timestamp for e in alert.evidence if e.stage == "important_file_access"]
    # The ground truth times the last share access (5145); its 4663 follows by a few ms.
    assert planted.file_access_last in file_times
    assert file_times[-1] - planted.file_access_last < timedelta(seconds=1)
    assert alert.context["night"] is True
    assert alert.context["holiday"] == "文化の日 (Culture Day)"
    assert alert.context["asset"] == {"host": "FS01", "criticality": "critical"}
    assert alert.context["entity_asset"]["owner"] == planted.user
    assert alert.score == 100.0 and alert.playbook == "S7-off-hours-staging"
    assert {"T1039", "T1048"} <= set(alert.attack)
    assert "文化の日" in alert.explanation and planted.host.lower() in alert.explanation


def test_no_decoy_raises_s7(week: tuple[Path, GroundTruth, list[Event]], s7: ScenarioSet
                            ) -> None:
    out, truth, events = week
    alerts = hunt(out, s7, events)
    decoy_hosts = {host_key(h) for d in truth.decoys for h in d.hosts}
    assert decoy_hosts and not decoy_hosts & {host_key(truth.s7.host)}
    for alert in alerts:
        assert alert.entity.get("host") not in decoy_hosts
        for d in truth.decoys:
            locs = {(loc.file, loc.offset) for loc in d.events}
            assert not locs & set(where(out, alert)), d.id


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=1, max_value=5000), max_size=5),
       st.integers(min_value=0, max_value=2**32 - 1))
def test_same_alert_whatever_batches_and_order_within_lateness(
        week: tuple[Path, GroundTruth, list[Event]], s7: ScenarioSet, batches: list[int],
        seed: int) -> None:
    out, _truth, events = week
    reference = [(a.id, where(out, a)) for a in hunt(out, s7, events)]
    lateness = timedelta(minutes=5)
    rnd = random.Random(seed)
    step = lateness.total_seconds() / 2
    shuffled = sorted(events, key=lambda e: e.timestamp.timestamp() // step + rnd.random() * 0.9)
    got = hunt(out, s7, shuffled, batches, lateness)
    assert [(a.id, where(out, a)) for a in got] == reference
