"""Data-driven scenario cases: YAML files with rules, context, scenarios, events and the
alerts they must give (tests/detect/data/scenario/*.yaml; format in its README)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kizuki.context import Assets, Calendar, Context, Zones
from kizuki.detect import Engine, EngineSettings
from kizuki.detect.scenario import ScenarioDetector
from kizuki.model import Alert, AlertKind, Event, LogSource, Origin
from kizuki.rules import RuleIndex
from kizuki.rules.scenario import ScenarioSet, scenarios_from_yaml

DATA = Path(__file__).parent / "data" / "scenario"


@dataclass
class Case:
    """One case of a file: its events and expected alerts, with the file's setup."""

    file: str
    name: str
    loaded: ScenarioSet
    context: Context
    events: list[Event]
    ids: dict[int, str]
    expect: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.file}::{self.name}"


def _context(raw: dict[str, Any] | None) -> Context:
    raw = raw or {}
    return Context(
        calendar=Calendar.from_dict(raw.get("calendar") or {}),
        assets=Assets.from_records(raw.get("assets") or []),
        zones=Zones.from_mapping(raw.get("zones") or {}),
    )


def _event(file: str, n: int, raw: dict[str, Any], defaults: dict[str, Any]) -> Event:
    ls = {**defaults.get("logsource", {}), **raw.get("logsource", {})}
    fields = {**defaults.get("fields", {}), **raw.get("fields", {})}
    original = {**defaults.get("original", {}), **raw.get("original", {})}
    ts = raw["t"]
    if not isinstance(ts, datetime):
        ts = datetime.fromisoformat(str(ts))
    return Event(
        timestamp=ts.astimezone(UTC),
        data_type="test:scenario",
        fields=fields,
        original=original,
        logsource=LogSource(ls.get("product"), ls.get("service"), ls.get("category")),
        origin=Origin(file, n * 100),
    )


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(DATA.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        loaded = scenarios_from_yaml(doc["rules"] + "\n---\n" + doc["scenarios"], path.name)
        assert not loaded.errors, [str(e) for e in loaded.errors]
        context = _context(doc.get("context"))
        defaults = doc.get("defaults", {})
        for c in doc["cases"]:
            events, ids = [], {}
            for n, raw in enumerate(c["events"]):
                ev = _event(path.name, n, raw, defaults)
                events.append(ev)
                ids[n * 100] = str(raw["id"])
            cases.append(Case(path.name, c["name"], loaded, context, events, ids,
                              c.get("expect", [])))
    return cases


def run_case(case: Case, events: list[Event] | None = None, batches: list[int] | None = None,
             lateness: Any = None, upstream: list[Any] | None = None) -> list[Alert]:
    """The scenario alerts of a case (rule alerts are dropped)."""
    detector = ScenarioDetector(case.loaded.scenarios, case.context)
    engine = Engine(RuleIndex(case.loaded.rules), [*(upstream or []), detector],
                    EngineSettings(lateness=lateness))
    stream = case.events if events is None else events
    alerts: list[Alert] = []
    i = 0
    for size in batches or []:
        alerts.extend(engine.feed(stream[i:i + size]))
        i += size
    alerts.extend(engine.feed(stream[i:]))
    alerts.extend(engine.close())
    return [a for a in alerts if a.kind is AlertKind.scenario]


def summary(case: Case, alert: Alert) -> dict[str, Any]:
    """An alert in the shape the case files write."""
    return {
        "scenario": alert.rule_id,
        "entity": alert.entity,
        "evidence": [case.ids.get(e.event.origin.offset or 0, "?") for e in alert.evidence],
        "stages": [e.stage for e in alert.evidence],
    }
