"""Scenario semantics from data files: ordered stages, windows, pivots, absent stages,
context conditions and merging (R15, R16; issue 3 item 3). Cases:
tests/detect/data/scenario/*.yaml."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.detect.entities import host_key
from kizuki.model import Alert, AlertKind, Event, Evidence
from kizuki.rules import CompiledRule
from tests.detect.scenario_cases import Case, load_cases, ordered, run_case, summary

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_case(case: Case) -> None:
    got = ordered(run_case(case))
    shapes = [summary(case, a) for a in got]
    assert len(got) == len(case.expect), shapes
    for alert, shape, want in zip(got, shapes, case.expect, strict=True):
        assert shape["scenario"] == want["scenario"], shapes
        assert shape["entity"] == want["entity"], shapes
        assert shape["evidence"] == want["evidence"], shapes
        if "stages" in want:
            assert shape["stages"] == want["stages"]
        for key, value in (want.get("context") or {}).items():
            assert alert.context.get(key) == value, alert.context
        if "score" in want:
            assert alert.score == want["score"]
        assert alert.kind is AlertKind.scenario and alert.explanation
        assert alert.first_seen == alert.evidence[0].event.timestamp
        assert alert.last_seen == alert.evidence[-1].event.timestamp


def test_the_case_files_cover_every_feature() -> None:
    files = {c.file for c in CASES}
    assert {"ordered.yaml", "pivot.yaml", "absent.yaml", "context.yaml", "merge.yaml"} <= files


def _ids(alerts: Iterable[Alert]) -> list[tuple[str, list[str]]]:
    return sorted((a.id, [e.event.origin.display for e in a.evidence]) for a in alerts)


def _shuffle_within(events: list[Event], lateness: timedelta, rnd: random.Random) -> list[Event]:
    """Reorder events only among those closer than ``lateness`` (the guarantee's scope)."""
    step = lateness.total_seconds() / 2
    return sorted(events, key=lambda e: e.timestamp.timestamp() // step + rnd.random() * 0.9)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CASES), st.lists(st.integers(min_value=1, max_value=4), max_size=6),
       st.integers(min_value=0, max_value=2**32 - 1))
def test_same_alerts_whatever_batches_and_order(case: Case, batches: list[int], seed: int
                                                ) -> None:
    reference = _ids(run_case(case))
    lateness = timedelta(minutes=2)
    shuffled = _shuffle_within(case.events, lateness, random.Random(seed))
    assert _ids(run_case(case, shuffled, batches, lateness)) == reference
    assert _ids(run_case(case, case.events, batches, None)) == reference


class Upstream:
    """Stands for the correlation detector: one correlation alert per matched event."""

    def advance(self, watermark: datetime) -> Iterable[Alert]:
        return ()

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        return ()

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> Iterable[Alert]:
        if event.original.get("action") != "read" or not event.host:
            return ()
        return [Alert(AlertKind.correlation, "many-reads", "Many reads", "medium", 45.0,
                      {"host": host_key(event.host)}, event.timestamp, event.timestamp,
                      [Evidence(event, "many-reads")])]


def test_a_stage_may_be_a_correlation() -> None:
    base = next(c for c in CASES if c.file == "ordered.yaml")
    from kizuki.rules.scenario import scenarios_from_yaml
    loaded = scenarios_from_yaml("""
title: Correlation then send
id: T-corr
entity: host
merge: 0
stages:
  - {name: burst, rules: [many-reads]}
  - {name: send, rules: [r_out], within: 30m}
""")
    case = Case("inline", "corr", loaded, base.context, base.events, base.ids, [])
    case.loaded.rules.extend(base.loaded.rules)
    got = run_case(case, upstream=[Upstream()])
    assert [summary(case, a)["evidence"] for a in got] == [["r1", "o1"]]
    assert got[0].evidence[0].stage == "burst"
