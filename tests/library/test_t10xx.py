"""Kizuki's own rules for ATT&CK T1000–T1099 (rules/windows/t10xx, issue 4).

Three layers:
- every rule file is well formed and compiles (R15: a rule library users can extend);
- representative rules meet data files of positive events and near-miss decoys, and
  exactly the expected rules match each event (tests/library/data/t10xx/*.yml);
- on the labelled public EVTX sets the library still detects the techniques of its
  range, and stays quiet (no new high/critical alerts) on the benign evtx-rs-samples.
"""

from __future__ import annotations

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

RULES = ROOT / "rules" / "windows" / "t10xx"
TECHNIQUES = range(1000, 1100)
# Reached 61/61 (100%) when the library was written; a small margin lets a rule be
# tightened later without breaking the build, while a real regression still fails.
MIN_COVERAGE = 0.95
# The two high alerts on evtx-rs-samples are true: System.evtx records the user "tony"
# clearing the Sysmon/Operational log twice (Event Log service, event 104).
MAX_BENIGN_HIGH = 2


@pytest.fixture(scope="module")
def rules() -> list[CompiledRule]:
    """The compiled t10xx library (loading must not report any error)."""
    return load_library(RULES).rules


@pytest.fixture(scope="module")
def index(rules: list[CompiledRule]) -> RuleIndex:
    return RuleIndex(rules)


def test_rule_files_are_well_formed(rules: list[CompiledRule]) -> None:
    docs = rule_documents(RULES)
    assert len(rules) == len(docs) >= 60
    check_rule_documents(docs, TECHNIQUES)


@pytest.mark.parametrize(("spec", "kind"), case_params(CASES / "t10xx"))
def test_case_matches_exactly(spec: dict[str, Any], kind: str, index: RuleIndex) -> None:
    assert matched_names(index, case_event(spec, kind)) == sorted(spec["expect"])


def test_every_case_rule_exists(rules: list[CompiledRule]) -> None:
    assert case_rule_names(CASES / "t10xx") <= {rule.name for rule in rules}


# -- shared data ---------------------------------------------------------------------

def test_technique_coverage_on_labelled_sets(shared_data: Path, index: RuleIndex) -> None:
    # 55: the range as computed when the library was written.
    check_coverage(shared_data, TECHNIQUES, rules_alone(index), min_labelled=55,
                   min_rate=MIN_COVERAGE)


def test_quiet_on_benign_samples(shared_data: Path, index: RuleIndex) -> None:
    check_quiet_on_benign_samples(shared_data, rules_alone(index), MAX_BENIGN_HIGH)
