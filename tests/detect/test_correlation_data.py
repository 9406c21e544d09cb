"""Reading the correlation test data files (tests/detect/data/correlation/*.yml).

A file holds Sigma rules and correlations (``rules``, multi-document YAML text), a
default ``logsource`` for its events, and ``cases``: each with ``events`` (input) and
``expected`` correlation alerts. Event items: ``id`` (label), ``at`` (``HH:MM:SS`` from
2026-01-05 00:00 UTC, hours may pass 24), optional ``repeat``/``every`` (``{i}`` in
string values and ``id`` is replaced by 1..repeat), optional ``fields`` (ECS fields),
``logsource``; every other key is an original field. Expected items: ``rule`` (the
alert's rule id), ``entity``, ``first_seen``, ``last_seen``, ``evidence`` (labels, with
``a1..a10`` ranges) or ``evidence_count``, and optionally ``stages``, ``value``,
``severity``, ``explanation`` (a substring). ``rule_alerts`` is the number of
single-rule alerts expected, ``silent`` names rules that must be silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kizuki.detect import Engine, EngineSettings
from kizuki.detect.correlation import CorrelationDetector
from kizuki.model import Alert, AlertKind, Event, LogSource, Origin
from kizuki.rules import RuleIndex, RuleSet, rules_from_yaml

DATA = Path(__file__).parent / "data" / "correlation"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
_SPAN = re.compile(r"^(\d+)([smhd])$")
_RANGE = re.compile(r"^(\D*)(\d+)\.\.(\D*)(\d+)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Case:
    """One case of a data file: the rules, the input events, what must come out."""

    file: str
    name: str
    rules: str
    events: list[Event]
    labels: dict[tuple[str, int], str]
    expected: list[dict[str, Any]]
    rule_alerts: int | None = None
    silent: list[str] = field(default_factory=list)

    def ruleset(self) -> RuleSet:
        loaded = rules_from_yaml(self.rules, name=self.file)
        assert not loaded.errors, loaded.errors
        return loaded


def at(text: str | int) -> datetime:
    """``HH:MM:SS`` (hours may pass 24) or seconds, from :data:`T0`."""
    if isinstance(text, int):
        return T0 + timedelta(seconds=text)
    h, m, s = text.split(":")
    return T0 + timedelta(hours=int(h), minutes=int(m), seconds=float(s))


def span(text: str) -> timedelta:
    found = _SPAN.match(text)
    assert found, text
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def _fill(value: Any, i: int) -> Any:
    return value.replace("{i}", str(i)) if isinstance(value, str) else value


def build_events(file: str, items: list[dict[str, Any]], logsource: dict[str, str]
                 ) -> tuple[list[Event], dict[tuple[str, int], str]]:
    """Events from a case's items; labels by (origin path, offset)."""
    events: list[Event] = []
    labels: dict[tuple[str, int], str] = {}
    for item in items:
        item = dict(item)
        label = str(item.pop("id", f"e{len(events) + 1}"))
        start = at(item.pop("at"))
        repeat = int(item.pop("repeat", 0))
        every = span(str(item.pop("every", "1s")))
        ecs = dict(item.pop("fields", {}))
        ls = {**logsource, **item.pop("logsource", {})}
        for i in range(1, max(repeat, 1) + 1):
            name = f"{label}{i}" if repeat else label
            offset = len(events)
            events.append(Event(
                timestamp=start + every * (i - 1),
                data_type="test:correlation",
                fields={k: _fill(v, i) for k, v in ecs.items()},
                original={k: _fill(v, i) for k, v in item.items()},
                logsource=LogSource(ls.get("product"), ls.get("service"), ls.get("category")),
                origin=Origin(file, offset),
            ))
            labels[(file, offset)] = name
    return events, labels


def expand(labels: list[str]) -> list[str]:
    """``["a1..a3", "b"]`` → ``["a1", "a2", "a3", "b"]``."""
    out: list[str] = []
    for label in labels:
        found = _RANGE.match(str(label))
        if found:
            out.extend(f"{found.group(1)}{i}"
                       for i in range(int(found.group(2)), int(found.group(4)) + 1))
        else:
            out.append(str(label))
    return out


def load_cases() -> list[Case]:
    """Every case of every data file, in file order."""
    cases: list[Case] = []
    for path in sorted(DATA.glob("*.yml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        logsource = doc.get("logsource", {"product": "windows", "service": "security"})
        for n, case in enumerate(doc["cases"]):
            events, labels = build_events(path.name, case["events"], logsource)
            cases.append(Case(
                file=path.name,
                name=f"{path.stem}:{case.get('name', n)}",
                rules=case.get("rules", doc.get("rules", "")),
                events=events,
                labels=labels,
                expected=case.get("expected", []),
                rule_alerts=case.get("rule_alerts"),
                silent=case.get("silent", []),
            ))
    return cases


def run_case(case: Case, events: list[Event] | None = None,
             lateness: timedelta | None = None, batch_size: int = 10_000
             ) -> tuple[list[Alert], CorrelationDetector]:
    """Run a case's events through the real Engine with a CorrelationDetector."""
    loaded = case.ruleset()
    detector = CorrelationDetector(loaded.correlations, loaded.rules)
    assert not detector.errors, detector.errors
    engine = Engine(RuleIndex(loaded.rules), [detector],
                    EngineSettings(lateness=lateness, silent_rules=detector.silent_rules()))
    alerts = engine.run(case.events if events is None else events, batch_size=batch_size)
    return alerts, detector


def summary(alert: Alert, labels: dict[tuple[str, int], str]) -> dict[str, Any]:
    """An alert in the shape of the data files' ``expected`` items."""
    return {
        "rule": alert.rule_id,
        "entity": alert.entity,
        "first_seen": alert.first_seen,
        "last_seen": alert.last_seen,
        "evidence": [labels[(ev.event.origin.path or "", ev.event.origin.offset or 0)]
                     for ev in alert.evidence],
        "stages": [ev.stage for ev in alert.evidence],
    }


def is_correlation(alert: Alert) -> bool:
    return alert.kind is AlertKind.correlation


CASES = load_cases()


def _expected(case: Case, item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": item["rule"],
        "entity": item.get("entity", {}),
        "first_seen": at(item["first_seen"]),
        "last_seen": at(item["last_seen"]),
    }
    if "evidence" in item:
        out["evidence"] = expand(item["evidence"])
    if "stages" in item:
        out["stages"] = item["stages"]
    return out


def _compare_keys(item: dict[str, Any]) -> list[str]:
    keys = ["rule", "entity", "first_seen", "last_seen"]
    return keys + [k for k in ("evidence", "stages") if k in item]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_correlation_case(case: Case) -> None:
    """Each data-file case gives exactly its expected correlation alerts (R15, issue 3)."""
    alerts, detector = run_case(case)
    got = [a for a in alerts if is_correlation(a)]
    got.sort(key=lambda a: (a.last_seen, a.rule_id, sorted(a.entity.items())))
    assert len(got) == len(case.expected), [summary(a, case.labels) for a in got]
    for alert, item in zip(got, case.expected, strict=True):
        want = _expected(case, item)
        have = summary(alert, case.labels)
        assert {k: have[k] for k in _compare_keys(want)} == want, alert.explanation
        if "evidence_count" in item:
            assert len(alert.evidence) == item["evidence_count"]
        if "value" in item:
            assert alert.context["correlation"]["value"] == pytest.approx(item["value"])
        if "severity" in item:
            assert alert.severity == item["severity"]
        if "explanation" in item:
            assert item["explanation"] in alert.explanation
        if "attack" in item:
            assert list(alert.attack) == item["attack"]
    if case.rule_alerts is not None:
        assert sum(1 for a in alerts if a.kind is AlertKind.rule) == case.rule_alerts
    for name in case.silent:
        assert name in detector.silent_rules()
