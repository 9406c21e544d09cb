"""Data-driven scenario cases: YAML files with rules, context, scenarios, events and the
alerts they must give (tests/detect/data/scenario/*.yaml; format in its README).

The case runner (:func:`context_from`, :func:`case_events`, :func:`scenario_alerts`)
also runs the scenario library's own cases (tests/library/scenario_folders.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kizuki.context import Assets, Calendar, Context, Zones
from kizuki.detect import Engine, EngineSettings
from kizuki.detect.scenario import ScenarioDetector
from kizuki.model import Alert, AlertKind, Event, LogSource, Origin
from kizuki.model.alert import entity_key
from kizuki.rules import RuleIndex
from kizuki.rules.scenario import ScenarioSet, scenarios_from_yaml
from tests.conftest import feed_in_batches

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


def context_from(raw: dict[str, Any] | None) -> Context:
    """A case file's inline context (calendar, assets, zones); none gives an empty one."""
    raw = raw or {}
    return Context(
        calendar=Calendar.from_dict(raw.get("calendar") or {}),
        assets=Assets.from_records(raw.get("assets") or []),
        zones=Zones.from_mapping(raw.get("zones") or {}),
    )


def case_events(origin: str, raws: list[dict[str, Any]],
                templates: dict[str, dict[str, Any]]) -> tuple[list[Event], dict[int, str]]:
    """A case's events, and the case id of each by its offset (event ``n`` at ``n * 100``).

    An event takes its logsource, fields, original and data type from the template it
    names (``template``; the one named ``""`` when it names none), then its own keys.
    """
    events = [_event(origin, n, raw, templates.get(raw.get("template", ""), {}))
              for n, raw in enumerate(raws)]
    return events, {n * 100: str(raw["id"]) for n, raw in enumerate(raws)}


def _event(origin: str, n: int, raw: dict[str, Any], tmpl: dict[str, Any]) -> Event:
    ls = {**tmpl.get("logsource", {}), **raw.get("logsource", {})}
    fields = {**tmpl.get("fields", {}), **raw.get("fields", {})}
    original = {**tmpl.get("original", {}), **raw.get("original", {})}
    ts = raw["t"]
    if not isinstance(ts, datetime):
        ts = datetime.fromisoformat(str(ts))
    raw_tags = original.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    return Event(
        timestamp=ts.astimezone(UTC),
        data_type=str(raw.get("data_type") or tmpl.get("data_type")),
        fields=fields,
        original=original,
        logsource=LogSource(ls.get("product"), ls.get("service"), ls.get("category")),
        origin=Origin(origin, n * 100),
        message=raw.get("message"),
        tags=tuple(str(t) for t in tags),
    )


def scenario_alerts(engine: Engine, events: Sequence[Event], batches: Iterable[int] = ()
                    ) -> list[Alert]:
    """Feed ``events`` in batches of the given sizes, the rest in one, and close: the
    scenario alerts (rule and correlation alerts are dropped)."""
    return [a for a in feed_in_batches(engine, events, batches)
            if a.kind is AlertKind.scenario]


def ordered(alerts: list[Alert]) -> list[Alert]:
    """Alerts sorted by first time, scenario and entity."""
    return sorted(alerts, key=lambda a: (a.first_seen, a.rule_id, entity_key(a.entity)))


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(DATA.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        loaded = scenarios_from_yaml(doc["rules"] + "\n---\n" + doc["scenarios"], path.name)
        assert not loaded.errors, [str(e) for e in loaded.errors]
        context = context_from(doc.get("context"))
        # The file's defaults are the template of every event.
        templates = {"": {"data_type": "test:scenario", **doc.get("defaults", {})}}
        for c in doc["cases"]:
            events, ids = case_events(path.name, c["events"], templates)
            cases.append(Case(path.name, c["name"], loaded, context, events, ids,
                              c.get("expect", [])))
    return cases


def run_case(case: Case, events: list[Event] | None = None, batches: list[int] | None = None,
             lateness: Any = None, upstream: list[Any] | None = None) -> list[Alert]:
    """The scenario alerts of a case (rule alerts are dropped)."""
    detector = ScenarioDetector(case.loaded.scenarios, case.context)
    engine = Engine(RuleIndex(case.loaded.rules), [*(upstream or []), detector],
                    EngineSettings(lateness=lateness))
    return scenario_alerts(engine, case.events if events is None else events, batches or [])


def summary(case: Case, alert: Alert) -> dict[str, Any]:
    """An alert in the shape the case files write."""
    return {
        "scenario": alert.rule_id,
        "entity": alert.entity,
        "evidence": [case.ids.get(e.event.origin.offset or 0, "?") for e in alert.evidence],
        "stages": [e.stage for e in alert.evidence],
    }
