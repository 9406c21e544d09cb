"""What the tests of the built-in scenario folders (S1–S6, S8–S12) share (issue 4 items
1–2; R15, R16).

A folder is loaded with the library's shared building blocks (scenarios/common); its
correlations run in a ``CorrelationDetector`` before the ``ScenarioDetector``, as
``kizuki hunt`` does. Its ``tests/*.json`` cases are run by the same case runner as the
scenario semantics tests (tests/detect/scenario_cases.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kizuki.context import Context
from kizuki.detect import Engine, EngineSettings
from kizuki.detect.correlation import CorrelationDetector
from kizuki.detect.scenario import ScenarioDetector
from kizuki.model import Alert, Event
from kizuki.rules import CompiledRule, RuleIndex
from kizuki.rules.scenario import ScenarioSet, load_scenarios
from kizuki.sources import Reader, SourceSettings
from tests.detect.scenario_cases import case_events, context_from, ordered, scenario_alerts

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "scenarios"
COMMON = LIBRARY / "common"
SHARED = ROOT.parent / "shared" / "data"


@dataclass
class Loaded:
    """One scenario folder: its scenarios, Sigma rules and correlations."""

    name: str
    scenarios: ScenarioSet
    rules: list[CompiledRule]
    correlations: list[Any]


def load(name: str) -> Loaded:
    """The library's shared building blocks (scenarios/common) and the scenario's folder."""
    loaded = load_scenarios([COMMON, LIBRARY / name])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return Loaded(name, loaded, list(loaded.rules), list(loaded.correlations))


_LOADED: dict[str, Loaded] = {}


def lib(name: str) -> Loaded:
    """Scenario folder ``name``, loaded once for the whole session."""
    if name not in _LOADED:
        _LOADED[name] = load(name)
    return _LOADED[name]


def used_rules(loaded: Loaded) -> list[CompiledRule]:
    """The rules scenario ``loaded`` reads: its stages', links' and pivots' references,
    and the rules its correlations count (not every shared building block)."""
    refs: set[str] = set()
    for s in loaded.scenarios.scenarios:
        refs.update(r for st in s.stages for r in st.rules)
        refs.update(r for lk in s.links for r in lk.rules)
        refs.update(st.pivot.via for st in s.stages if st.pivot and st.pivot.via)
    for corr in loaded.correlations:
        if refs & {str(corr.id), corr.name, corr.title}:
            refs.update(str(r.reference) for r in corr.rules)
    return [r for r in loaded.rules if refs & {r.id, r.name, r.title}]


def engine_for(loaded: Loaded, context: Context) -> Engine:
    """The folder's correlations, then its scenarios, with building blocks silenced."""
    correlations = CorrelationDetector(loaded.correlations, loaded.rules)
    assert not correlations.errors, [str(e) for e in correlations.errors]
    detector = ScenarioDetector(loaded.scenarios.scenarios, context)
    return Engine(RuleIndex(loaded.rules), [correlations, detector],
                  EngineSettings(silent_rules=correlations.silent_rules()))


def run(loaded: Loaded, context: Context, events: list[Event], batch: int | None = None
        ) -> list[Alert]:
    """The scenario alerts, fed ``batch`` events at a time (default: all at once),
    sorted by first time, scenario and entity."""
    step = batch or max(len(events), 1)
    return ordered(scenario_alerts(engine_for(loaded, context), events,
                                   [step] * (len(events) // step)))


def matches(name: str, paths: list[Path]) -> dict[str, int]:
    """How many events of ``paths`` each rule of scenario ``name`` matches."""
    index = RuleIndex(used_rules(lib(name)))
    counts: dict[str, int] = {}
    for event in Reader(SourceSettings()).read(paths):
        for rule in index.match(event):
            key = rule.name or rule.id or "?"
            counts[key] = counts.get(key, 0) + 1
    return counts


def shared(*parts: str) -> Path:
    """A path of ../shared/data; the test is skipped where it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent (../shared/data is the dev data set, not shipped)")
    return path


# --------------------------------------------------------------------------- case files
@dataclass
class Case:
    """One case: events, the ids of their offsets, and the alerts expected."""

    scenario: str
    file: str
    name: str
    kind: str
    context: Context
    events: list[Event]
    ids: dict[int, str]
    expect: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.scenario}/{self.file}::{self.name}"


def load_cases(scenario: str) -> list[Case]:
    """The cases of ``scenarios/<scenario>/tests/*.json``."""
    out: list[Case] = []
    for path in sorted((LIBRARY / scenario / "tests").glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        context = context_from(doc.get("context"))
        templates = doc.get("templates", {})
        for c in doc["cases"]:
            events, ids = case_events(f"{scenario}/{path.name}", c["events"], templates)
            out.append(Case(scenario, path.name, c["name"], c["kind"], context, events, ids,
                            c.get("expect", [])))
    return out


def shape(case: Case, alert: Alert) -> dict[str, Any]:
    """An alert in the shape the case files write."""
    return {"scenario": alert.rule_id, "entity": alert.entity,
            "evidence": [case.ids.get(e.event.origin.offset or 0, "?") for e in alert.evidence]}


def check_folder(name: str, cases: list[Case], correlations: list[str],
                 headings: tuple[str, ...]) -> tuple[Loaded, str]:
    """Folder ``name`` loads without error and holds scenario ``name``; its correlations
    are ``correlations``; every stage reference resolves; its rules are building blocks;
    its README has ``headings``; its cases hold positives and decoys. Returns the folder
    and its README."""
    loaded = lib(name)
    assert [s.id for s in loaded.scenarios.scenarios] == [name]
    assert {c.name for c in loaded.correlations} == set(correlations)
    # Every stage reference is a rule of the folder or of scenarios/common, or a
    # correlation beside it (named by its name: its alerts carry it).
    assert not loaded.scenarios.unresolved()
    for rule in loaded.rules:
        assert "kizuki.building-block" in rule.tags and rule.level == "informational", rule.name
    readme = (LIBRARY / name / "README.md").read_text("utf-8")
    for heading in headings:
        assert heading in readme, (name, heading)
    assert {c.kind for c in cases if c.scenario == name} == {"positive", "decoy"}
    return loaded, readme


def check_case(case: Case) -> None:
    """Positives fire exactly as written (scenario, entity, evidence); decoys never."""
    got = [shape(case, a) for a in run(lib(case.scenario), case.context, case.events)]
    if case.kind == "decoy":
        assert case.expect == [] and got == []
        return
    assert case.expect, "a positive case must expect an alert"
    assert got == case.expect


def check_batches(case: Case, odd: int) -> None:
    """One event per batch, and ``odd`` events per batch, give the same alerts, ids
    included, as one batch."""
    whole = run(lib(case.scenario), case.context, case.events)
    single = run(lib(case.scenario), case.context, case.events, batch=1)
    assert [a.id for a in single] == [a.id for a in whole]
    odd_batches = run(lib(case.scenario), case.context, case.events, batch=odd)
    assert [a.id for a in odd_batches] == [a.id for a in whole]
