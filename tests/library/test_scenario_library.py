"""The built-in scenario library as one whole (issue 4; R15, R16): it loads without
error, rule ids and names are unique across ``rules/`` and ``scenarios/``, every stage
reference resolves, each generic building block exists once (``scenarios/common``), and
the engine features the scenarios rely on behave as documented in docs/scenarios.md:
role conditions, the person named by an alert, correlations referenced by name, and
absent stages at the end of a hunt.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kizuki.context import Assets, Context
from kizuki.detect import Engine
from kizuki.detect.correlation import NAME_TAG, CorrelationDetector
from kizuki.detect.entities import is_person
from kizuki.detect.scenario import ScenarioDetector
from kizuki.model import Alert, AlertKind, Event, LogSource, Origin
from kizuki.rules import RuleIndex
from kizuki.rules.library import builtin_paths, load_library
from kizuki.rules.scenario import load_scenarios, scenarios_from_yaml
from kizuki.rules.sigma import load_ruleset

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "scenarios"
COMMON = LIBRARY / "common"
FOLDERS = sorted(p.name for p in LIBRARY.iterdir() if (p / "scenario.yml").is_file())


# --------------------------------------------------------------------------- the library
def test_builtin_library_loads_with_unique_ids_and_names() -> None:
    """``load_library(builtin=True)``: no error; no rule name (nor correlation name) is
    used twice anywhere in rules/ and scenarios/; no id either — counted on the raw
    loads, since the library itself keeps the first of two rules with one id."""
    lib = load_library(builtin=True)
    assert [str(e) for e in lib.errors] == []
    assert {s.id for s in lib.scenarios} >= {f"S{n}" for n in range(1, 13)}
    names = Counter([r.name for r in lib.rules if r.name]
                    + [c.name for c in lib.correlations if c.name])
    assert [n for n, k in names.items() if k > 1] == []
    rule_dirs, scenario_dirs = builtin_paths()
    raw = [*load_ruleset(rule_dirs).rules, *load_scenarios(scenario_dirs).rules]
    ids = Counter([r.id for r in raw if r.id] + [str(c.id) for c in lib.correlations if c.id])
    assert [i for i, k in ids.items() if k > 1] == []
    assert len(raw) == len(lib.rules)


def test_every_stage_reference_resolves_in_the_builtin_library() -> None:
    """Stage rules, link rules and pivot ``via`` rules name a rule or a correlation of
    the library (by id, name or title)."""
    lib = load_library(builtin=True)
    missing = []
    for s in lib.scenarios:
        refs = [(st.name, r) for st in s.stages for r in st.rules]
        refs += [(f"link {lk.name}", r) for lk in s.links for r in lk.rules]
        refs += [(st.name, st.pivot.via) for st in s.stages if st.pivot and st.pivot.via]
        missing += [(s.id, where, ref) for where, ref in refs
                    if lib.resolve(ref) is None and lib.correlation(ref) is None]
    assert missing == []


@pytest.mark.parametrize("name", FOLDERS)
def test_each_scenario_needs_only_common_and_its_own_folder(name: str) -> None:
    """A scenario never reads another scenario's folder: shared blocks are in common."""
    loaded = load_scenarios([COMMON, LIBRARY / name])
    assert [str(e) for e in loaded.errors] == []
    assert loaded.unresolved() == []


def _blocks() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(LIBRARY.glob("*/rules/*.yml")):
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if isinstance(doc, dict) and "detection" in doc:
                out.append((path, doc))
    return out


def test_no_building_block_is_copied_between_scenario_folders() -> None:
    """Two rules with the same log source and detection are one block: it belongs in
    scenarios/common/rules once, referenced by every scenario that needs it."""
    seen: dict[str, Path] = {}
    copies = []
    for path, doc in _blocks():
        key = json.dumps([doc.get("logsource"), doc["detection"]], sort_keys=True)
        if key in seen:
            copies.append((str(seen[key].relative_to(ROOT)), str(path.relative_to(ROOT))))
        seen.setdefault(key, path)
    assert copies == []


def test_common_blocks_are_building_blocks_used_by_several_scenarios() -> None:
    lib = load_library(scenarios=[LIBRARY], builtin=False)
    users: Counter[str] = Counter()
    for s in lib.scenarios:
        refs = {r for st in s.stages for r in st.rules} | {r for lk in s.links for r in lk.rules}
        for corr in lib.correlations:    # the rules a stage's correlation counts
            if refs & {str(corr.id), corr.name, corr.title}:
                refs |= {str(r.reference) for r in corr.rules}
        users.update(rule.name for rule in lib.rules
                     if rule.name and refs & {rule.id, rule.name, rule.title})
    common = load_scenarios(COMMON)
    assert common.rules and not common.scenarios and not common.errors
    for rule in common.rules:
        assert "kizuki.building-block" in rule.tags and rule.level == "informational"
        assert rule.name is not None and users[rule.name] >= 2, rule.name


# --------------------------------------------------------------------------- engine parts
RULES = """
title: logon
id: 00000000-0000-4000-8000-00000000d001
name: t_logon
logsource: {product: test, service: test}
detection: {selection: {action: logon}, condition: selection}
level: informational
---
title: change
id: 00000000-0000-4000-8000-00000000d002
name: t_change
logsource: {product: test, service: test}
detection: {selection: {action: change}, condition: selection}
level: informational
---
title: beacon
id: 00000000-0000-4000-8000-00000000d003
name: t_beacon
logsource: {product: test, service: test}
detection: {selection: {action: beacon}, condition: selection}
level: informational
"""
ASSETS = Assets.from_records([
    {"host": "DC01", "ip": "10.1.0.10", "criticality": "critical", "role": "Domain-Controller"},
    {"host": "FS01", "ip": "10.1.0.11", "criticality": "critical", "role": "file-server"},
    {"host": "ADM01", "ip": "10.1.0.50", "criticality": "high", "role": "admin workstation"},
    {"host": "WS-05", "ip": "10.1.1.25", "criticality": "low", "role": "workstation"},
])
T0 = datetime(2026, 11, 4, 1, 0, tzinfo=UTC)


def _ev(n: int, minutes: float, action: str, **fields: str) -> Event:
    return Event(timestamp=T0 + timedelta(minutes=minutes), data_type="test",
                 fields=dict(fields), original={"action": action},
                 logsource=LogSource("test", "test", None), origin=Origin("t.log", n))


def _run(scenario: str, events: list[Event], context: Context | None = None) -> list[Alert]:
    loaded = scenarios_from_yaml(RULES + "\n---\n" + scenario)
    assert [str(e) for e in loaded.errors] == []
    detector = ScenarioDetector(loaded.scenarios, context or Context(assets=ASSETS))
    alerts = Engine(RuleIndex(loaded.rules), [detector]).run(events)
    return [a for a in alerts if a.kind is AlertKind.scenario]


ROLE = """
title: logon then change, with roles
id: T-role
entity: host
merge: 0
stages:
  - {name: logon, rules: [t_logon], context: %s}
  - {name: change, rules: [t_change], within: 1h}
"""


@pytest.mark.parametrize(("context", "fields", "fires"), [
    # role of the host that logged the event (host.name by default); any spelling
    ("{role: domain_controller}", {"host.name": "DC01.corp.example.jp"}, True),
    ("{role: [domain_controller]}", {"host.name": "FS01"}, False),
    ("{role: domain_controller}", {"host.name": "UNKNOWN01"}, False),
    # not_role of the client named by role_of: first known asset wins
    ("{not_role: admin_workstation, role_of: [source.ip, WorkstationName]}",
     {"host.name": "FS01", "source.ip": "10.1.0.50"}, False),
    ("{not_role: admin_workstation, role_of: [source.ip, WorkstationName]}",
     {"host.name": "FS01", "source.ip": "10.1.1.25"}, True),
    # a PC the inventory does not know is not an admin workstation ...
    ("{not_role: admin_workstation, role_of: [source.ip]}",
     {"host.name": "FS01", "source.ip": "10.9.9.9"}, True),
    # ... but an event naming no client at all proves nothing
    ("{not_role: admin_workstation, role_of: [source.ip]}", {"host.name": "FS01"}, False),
    # a loopback address is the event's own host
    ("{not_role: admin_workstation, role_of: [source.ip, WorkstationName]}",
     {"host.name": "ADM01", "source.ip": "127.0.0.1", "WorkstationName": "X"}, False),
    # the chain's entity
    ("{entity_role: file_server}", {"host.name": "fs01"}, True),
    ("{entity_not_role: [file_server, domain_controller]}", {"host.name": "fs01"}, False),
    ("{entity_not_role: file_server}", {"host.name": "ws-05"}, True),
    ("{role: admin_workstation, role_of: entity}", {"host.name": "adm01"}, True),
])
def test_role_conditions(context: str, fields: dict[str, str], fires: bool) -> None:
    """docs/scenarios.md "Context conditions": role / not_role / role_of / entity_role /
    entity_not_role, on assets.yaml roles in one spelling (domain_controller)."""
    events = [_ev(0, 0, "logon", **fields), _ev(1, 5, "change", **{"host.name":
                                                                   fields["host.name"]})]
    assert len(_run(ROLE % context, events)) == int(fires)


def test_role_condition_round_trips_and_is_validated() -> None:
    loaded = scenarios_from_yaml(RULES + "\n---\n" + ROLE % "{role: Domain-Controller}")
    cond = loaded.scenarios[0].stages[0].condition
    assert cond is not None and cond.role == ("domain_controller",)
    assert cond.to_dict() == {"role": ["domain_controller"]}
    bad = scenarios_from_yaml(RULES + "\n---\n" + ROLE % "{roles: dc}")
    assert len(bad.errors) == 1 and "roles" in str(bad.errors[0])


@pytest.mark.parametrize(("user", "person"), [
    ("ws-07$", False), ("system", False), ("local service", False),
    ("network service", False), ("anonymous logon", False), ("dwm-1", False),
    ("umfd-0", False), ("s-1-5-18", False), ("ito.takeshi", True), ("administrator", True),
])
def test_alerts_name_a_person(user: str, person: bool) -> None:
    assert is_person(user) is person


def test_alert_user_skips_machine_and_service_accounts() -> None:
    # merge 30m: the change after the completing one joins the alert's evidence
    scenario = ROLE.replace(", context: %s", "").replace("merge: 0", "merge: 30m")
    users = ["CORP\\WS-05$", "NT AUTHORITY\\SYSTEM", "Font Driver Host\\UMFD-0",
             "CORP\\ito.takeshi"]
    events = [_ev(n, n, "logon" if n < 2 else "change", **{"host.name": "WS-05",
                                                             "user.name": u})
              for n, u in enumerate(users)]
    (alert,) = _run(scenario, events)
    assert alert.entity == {"host": "ws-05", "user": "ito.takeshi"}


BURST = """
title: burst of changes
id: 00000000-0000-4000-8000-00000000d0c1
name: t_change_burst
correlation:
  type: event_count
  rules: [t_change]
  group-by: [host.name]
  timespan: 10m
  condition: {gte: 3}
level: medium
"""


def test_a_stage_names_a_correlation_by_its_name() -> None:
    """Correlation alerts carry the correlation's name as a tag (NAME_TAG), so a stage
    may name it as it names rules (and by id or title as before)."""
    for ref in ("t_change_burst", "00000000-0000-4000-8000-00000000d0c1", "burst of changes"):
        scenario = f"""
title: logon then a burst
id: T-corr
entity: host
merge: 0
stages:
  - {{name: logon, rules: [t_logon]}}
  - {{name: burst, rules: ['{ref}'], within: 1h}}
"""
        loaded = scenarios_from_yaml(RULES + "\n---\n" + BURST + "\n---\n" + scenario)
        assert [str(e) for e in loaded.errors] == [] and loaded.unresolved() == []
        correlations = CorrelationDetector(load_ruleset_text(BURST), loaded.rules)
        detector = ScenarioDetector(loaded.scenarios, Context())
        events = [_ev(0, 0, "logon", **{"host.name": "ws-05"})] + [
            _ev(n, n, "change", **{"host.name": "ws-05"}) for n in range(1, 4)]
        alerts = Engine(RuleIndex(loaded.rules), [correlations, detector]).run(events)
        burst = [a for a in alerts if a.kind is AlertKind.correlation]
        assert burst and NAME_TAG + "t_change_burst" in burst[0].tags
        assert burst[0].context["correlation"]["name"] == "t_change_burst"
        scenario_alerts = [a for a in alerts if a.kind is AlertKind.scenario]
        assert [len(a.evidence) for a in scenario_alerts] == [4], ref


def load_ruleset_text(text: str) -> list[Any]:
    loaded = scenarios_from_yaml(text)
    assert loaded.errors == [] and len(loaded.correlations) == 1
    return list(loaded.correlations)


QUIET = """
title: a host beacons, then goes quiet for 30 minutes
id: T-quiet
entity: host
merge: 0
stages:
  - {name: beacon, rules: [t_beacon]}
  - {name: quiet, rules: [t_beacon], within: 30m, absent: true}
"""


def test_absent_stage_is_not_proved_by_the_end_of_the_input() -> None:
    """S12's "goes quiet": a host still beaconing when the files end has not gone
    quiet — a hunt cannot prove silence after its last event. A host that stops while
    the stream goes on past its deadline has."""
    still = [_ev(n, n * 5, "beacon", **{"host.name": "ws-05"}) for n in range(6)]
    assert _run(QUIET, still) == []
    stopped = [_ev(100, 0, "beacon", **{"host.name": "ws-06"}),
               *[_ev(n, n * 5, "beacon", **{"host.name": "ws-05"}) for n in range(10)]]
    alerts = _run(QUIET, stopped)
    assert [(a.entity, a.context["absent"][0]["stage"]) for a in alerts] == [
        ({"host": "ws-06"}, "quiet")]
