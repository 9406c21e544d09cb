"""The scenario format: schema validation and loading errors that name file, line and key
(style §2; docs/scenarios.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from kizuki.rules.scenario import (
    SCHEMA_PATH,
    ScenarioError,
    load_scenarios,
    parse_duration,
    scenarios_from_yaml,
    validate,
)

GOOD = """\
title: t
id: X1
entity: host
stages:
  - name: a
    rules: [r1]
  - name: b
    rules: [r2]
    within: 30m
    context: {time: [night, holiday], asset_criticality: ">= high", zone: sinkhole}
"""


def one_error(text: str) -> ScenarioError:
    loaded = scenarios_from_yaml(text, "s.yml")
    assert len(loaded.errors) == 1, [str(e) for e in loaded.errors]
    err = loaded.errors[0]
    assert isinstance(err, ScenarioError)
    return err


def test_a_good_scenario_compiles() -> None:
    loaded = scenarios_from_yaml(GOOD)
    assert not loaded.errors
    (s,) = loaded.scenarios
    assert [st.name for st in s.stages] == ["a", "b"]
    assert s.stages[1].within == timedelta(minutes=30)
    cond = s.stages[1].condition
    assert cond is not None and cond.time == ("night", "holiday")
    assert cond.criticality == (">=", 3) and cond.zone == ("sinkhole",)
    assert s.level == "high" and s.score == 70.0


@pytest.mark.parametrize(("text", "line", "key"), [
    (GOOD.replace("within: 30m", "within: soon"), 9, "stages.1.within"),
    (GOOD.replace("entity: host", "entity: printer"), 3, "entity"),
    (GOOD.replace("time: [night, holiday]", "time: [night, lunch]"), 10, "stages.1.context.time"),
    (GOOD.replace("    rules: [r2]\n", "    rulez: [r2]\n"), 8, "stages.1.rulez"),
    (GOOD.replace("id: X1\n", ""), 1, None),
    (GOOD.replace("name: b", "name: a"), 7, "stages.1.name"),
    (GOOD.replace("    rules: [r2]\n",
                  "    absent: true\n    rules: [r2]\n    pivot: {from: user, to: host}\n"),
     10, "stages.1.pivot"),
    (GOOD.replace("    rules: [r2]\n", "    rules: [r2]\n    pivot: {from: user, to: host}\n"),
     9, "stages.1.pivot.from"),
])
def test_errors_name_file_line_and_key(text: str, line: int, key: str | None) -> None:
    err = one_error(text)
    assert err.path == "s.yml" and err.line == line and err.key == key, str(err)
    assert str(err).startswith(f"s.yml:{line}: ")


def test_inline_detection_errors_point_into_the_stage() -> None:
    text = GOOD + """\
  - name: c
    logsource: {product: windows, service: security}
    detection: {selection: {EventID|nosuchmodifier: 1}, condition: selection}
"""
    err = one_error(text)
    assert err.key is not None and err.key.startswith("stages.2.detection"), str(err)
    assert err.line == 13


def test_inline_detection_becomes_a_quiet_rule() -> None:
    text = GOOD + """\
  - name: c
    logsource: {product: windows, service: security}
    detection: {selection: {EventID: 1102}, condition: selection}
"""
    loaded = scenarios_from_yaml(text)
    assert not loaded.errors
    (rule,) = loaded.rules
    assert rule.level == "informational" and rule.id in loaded.scenarios[0].stages[2].rules
    again = scenarios_from_yaml(text).rules[0]
    assert again.id == rule.id  # stable id: alerts stay the same across runs


def test_one_bad_scenario_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD, "utf-8")
    (tmp_path / "bad.yml").write_text(GOOD.replace("id: X1", "id: X2").replace("30m", "x"),
                                      "utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(
        "title: r1\nid: 00000000-0000-4000-8000-000000000111\nname: r1\n"
        "logsource: {product: test}\ndetection: {s: {a: 1}, condition: s}\n", "utf-8")
    loaded = load_scenarios(tmp_path)
    assert [s.id for s in loaded.scenarios] == ["X1"]
    assert len(loaded.errors) == 1 and "bad.yml:9" in str(loaded.errors[0])
    assert [r.name for r in loaded.rules] == ["r1"]
    assert loaded.unresolved() == [("X1", "b", "r2")]


def test_hand_validator_agrees_with_the_schema_file() -> None:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    assert schema["$schema"].endswith("2020-12/schema")
    assert validate({"title": "t", "id": "x", "entity": "host", "stages": [{"name": "a"}]}) == []
    errors = validate({"title": "t", "id": "x", "entity": "host", "stages": []})
    assert errors and errors[0][0] == ("stages",)


def test_durations() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration(45) == timedelta(seconds=45)
    with pytest.raises(ValueError):
        parse_duration("30 minutes")
