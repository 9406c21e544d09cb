"""The rule library ``eval`` and ``coverage`` measure: built-in by default (issue 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuki.assess import library
from kizuki.assess.library import describe_key, load_library, reads, requirement
from kizuki.errors import ConfigError
from kizuki.rules import library as rules_library
from kizuki.rules import rules_from_yaml

RULE = """
title: Process creation
id: 00000000-0000-4000-8000-0000000000b1
status: test
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '.exe'}
  condition: sel
level: low
"""


def test_builtin_library_is_the_repository_rules_and_scenarios() -> None:
    root = Path(library.__file__).resolve().parents[3]
    assert library.repo_root() == root
    rules, scenarios = library.builtin_paths()
    assert rules == [root / "rules"] and scenarios == [root / "scenarios"]
    lib = load_library()
    assert lib.paths == [str(root / "rules"), str(root / "scenarios")]
    assert lib.rules


def test_missing_builtin_library_says_to_pass_rules(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(rules_library, "repo_root", lambda: tmp_path)
    with pytest.raises(ConfigError, match="pass --rules DIR"):
        load_library()
    with pytest.raises(ConfigError, match="not found"):
        load_library([tmp_path / "nope"])


def test_a_rule_reads_the_event_types_bound_to_its_category() -> None:
    rule = rules_from_yaml(RULE).rules[0]
    assert reads(rule, ("windows", "sysmon", "process_creation", 1))
    assert reads(rule, ("windows", "security", None, 4688))
    assert not reads(rule, ("windows", "security", None, 4624))
    assert not reads(rule, ("zeek", "conn", None, None))
    assert requirement(rule) == "windows/process_creation (Sysmon 1 or Security 4688)"
    assert describe_key(("windows", "security", None, 4624)) == "windows/security 4624"
