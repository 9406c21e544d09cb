"""Kizuki's own rules for ATT&CK T1000–T1099 and T1500+ (rules/windows/t10xx, t15xx;
issue 4).

Three layers, for each area:
- every rule file is well formed and compiles (R15: a rule library users can extend);
- representative rules meet data files of positive events and near-miss decoys, and
  exactly the expected rules match each event (tests/library/data/<area>/*.yml);
- on the labelled public EVTX sets the library still detects the techniques of its
  range, and stays quiet (no new high/critical alerts) on the benign evtx-rs-samples.

T1100–T1499 (with correlations) has its own module, test_t11xx_t14xx.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kizuki.rules import CompiledRule, RuleIndex
from tests.library.common import (
    CASES,
    ROOT,
    case_event,
    case_params,
    case_rule_names,
    check_coverage,
    check_quiet_on_benign_samples,
    check_rule_documents,
    load_library,
    matched_names,
    rule_documents,
    rules_alone,
)


@dataclass(frozen=True)
class Area:
    """One rule folder and what it must keep achieving."""

    name: str
    techniques: range
    min_rules: int
    #: Labelled techniques of the range in the public sets (as counted when written).
    min_labelled: int
    #: A small margin under what the area reached when written lets a rule be tightened
    #: later without breaking the build, while a real regression still fails.
    min_coverage: float
    #: High/critical alerts on the benign evtx-rs-samples, each explained.
    max_benign_high: int

    @property
    def rules(self) -> Path:
        return ROOT / "rules" / "windows" / self.name


AREAS = {
    # Reached 61/61 (100%) when written. The two high alerts are true: System.evtx
    # records the user "tony" clearing the Sysmon/Operational log twice (event 104).
    "t10xx": Area("t10xx", range(1000, 1100), 60, 55, 0.95, 2),
    # Reached 49/56 (87.5%) alone when written (issue 4 asks 80% overall); the misses are
    # listed in the report (mislabelled files, legitimate-only samples, tool traces).
    # The five high alerts are explained in docs/detection.md: a kernel driver
    # (Mnemosyne.sys) installed four times from a user's Desktop, and a test suite
    # installing a service from AppData\Local\Temp.
    "t15xx": Area("t15xx", range(1500, 10000), 100, 50, 0.85, 5),
}
_CACHE: dict[str, tuple[list[CompiledRule], RuleIndex]] = {}


def _library(area: Area) -> tuple[list[CompiledRule], RuleIndex]:
    """The compiled area (loading must not report any error), once per session."""
    if area.name not in _CACHE:
        rules = load_library(area.rules).rules
        _CACHE[area.name] = (rules, RuleIndex(rules))
    return _CACHE[area.name]


@pytest.mark.parametrize("name", AREAS)
def test_rule_files_are_well_formed(name: str) -> None:
    area = AREAS[name]
    rules, _ = _library(area)
    docs = rule_documents(area.rules)
    assert len(rules) == len(docs) >= area.min_rules
    check_rule_documents(docs, area.techniques)


@pytest.mark.parametrize(("name", "spec", "kind"), [
    pytest.param(name, *p.values, id=f"{name}::{p.id}")
    for name in AREAS for p in case_params(CASES / name)
])
def test_case_matches_exactly(name: str, spec: dict[str, Any], kind: str) -> None:
    _, index = _library(AREAS[name])
    assert matched_names(index, case_event(spec, kind)) == sorted(spec["expect"])


@pytest.mark.parametrize("name", AREAS)
def test_every_case_rule_exists(name: str) -> None:
    rules, _ = _library(AREAS[name])
    assert case_rule_names(CASES / name) <= {rule.name for rule in rules}


# -- shared data ---------------------------------------------------------------------

@pytest.mark.parametrize("name", AREAS)
def test_technique_coverage_on_labelled_sets(shared_data: Path, name: str) -> None:
    area = AREAS[name]
    _, index = _library(area)
    check_coverage(shared_data, area.techniques, rules_alone(index),
                   min_labelled=area.min_labelled, min_rate=area.min_coverage)


@pytest.mark.parametrize("name", AREAS)
def test_quiet_on_benign_samples(shared_data: Path, name: str) -> None:
    _, index = _library(AREAS[name])
    check_quiet_on_benign_samples(shared_data, rules_alone(index),
                                  AREAS[name].max_benign_high)
