"""Rule semantics from data files: each case's rule must match exactly its expected
events, through ``CompiledRule.matches`` and through ``RuleIndex.match_all`` (issue 3
item 1; style §9: behaviour tested from data files)."""

from __future__ import annotations

import pytest

from kizuki.rules import RuleIndex, rules_from_yaml
from tests.rules.cases import Case, load_cases

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    rs = rules_from_yaml(case.rule, name=case.id, placeholders=case.config)
    assert not rs.errors, [str(e) for e in rs.errors]
    assert len(rs.rules) == 1
    rule = rs.rules[0]
    direct = [name for name, ev in case.events.items() if rule.matches(ev)]
    assert direct == case.expect
    index = RuleIndex(rs.rules)
    names = {id(ev): name for name, ev in case.events.items()}
    indexed = [names[id(ev)] for _r, ev in index.match_all(case.events.values())]
    assert indexed == case.expect


def test_every_data_file_has_cases() -> None:
    files = {c.id.split("::")[0] for c in CASES}
    assert {"strings", "regex", "encoding", "numbers", "special", "conditions"} <= files
    assert {"logsource", "filters"} <= files
