"""A rule that cannot load names its file, line and key; the others still load
(issue 3 item 1; style §2)."""

from __future__ import annotations

from pathlib import Path

from kizuki.errors import KizukiError
from kizuki.rules import RuleError, load_rules, load_ruleset

GOOD = """\
title: good
id: 5b1c9a8e-1111-4a4a-9b9b-000000000001
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\\\whoami.exe'
  condition: sel
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _one_error(tmp_path: Path, text: str) -> RuleError:
    path = _write(tmp_path, "bad.yml", text)
    rules, errors = load_rules([path])
    assert rules == []
    assert len(errors) == 1, [str(e) for e in errors]
    err = errors[0]
    assert isinstance(err, KizukiError)
    assert err.path == str(path)
    return err


def test_unknown_modifier_names_the_key_and_line(tmp_path: Path) -> None:
    err = _one_error(
        tmp_path,
        "title: bad\nlogsource: {product: windows}\ndetection:\n"
        "  sel:\n    Image|endswith: a\n    CommandLine|bogus: b\n  condition: sel\n",
    )
    assert err.key == "detection.sel.CommandLine|bogus"
    assert err.line == 6
    assert "bogus" in str(err)
    assert f"{err.path}:6" in str(err)


def test_condition_naming_a_missing_detection(tmp_path: Path) -> None:
    err = _one_error(
        tmp_path,
        "title: bad\nlogsource: {product: windows}\ndetection:\n"
        "  sel:\n    Image: a\n  condition: sel and filter\n",
    )
    assert err.key == "detection.condition"
    assert err.line == 6
    assert "filter" in str(err)


def test_invalid_regex_names_the_key(tmp_path: Path) -> None:
    err = _one_error(
        tmp_path,
        "title: bad\nlogsource: {product: windows}\ndetection:\n"
        "  sel:\n    Image: a\n    CommandLine|re: '(unclosed'\n  condition: sel\n",
    )
    assert err.key == "detection.sel.CommandLine|re"
    assert err.line == 6


def test_missing_placeholder_names_the_key(tmp_path: Path) -> None:
    err = _one_error(
        tmp_path,
        "title: bad\nlogsource: {product: windows}\ndetection:\n"
        "  sel:\n    - Image: a\n    - User|expand: '%admins%'\n  condition: sel\n",
    )
    assert err.key == "detection.sel.1.User|expand"
    assert err.line == 6
    assert "%admins%" in str(err)


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    err = _one_error(tmp_path, "title: bad\ndetection:\n  sel: [a\n  condition: sel\n")
    assert err.line is not None
    assert "invalid YAML" in str(err)


def test_missing_logsource(tmp_path: Path) -> None:
    err = _one_error(
        tmp_path, "title: bad\ndetection:\n  sel:\n    Image: a\n  condition: sel\n"
    )
    assert err.key == "logsource"


def test_one_bad_rule_does_not_stop_the_others(tmp_path: Path) -> None:
    _write(tmp_path, "a_good.yml", GOOD)
    _write(tmp_path, "b_bad.yml", "title: bad\ndetection: {condition: sel}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(sub, "c_good.yaml", GOOD.replace("good", "good too").replace("0001", "0002"))
    _write(sub, "notes.txt", "not a rule")
    rs = load_ruleset([tmp_path])
    assert rs.files == 3
    assert sorted(r.title for r in rs.rules) == ["good", "good too"]
    # The bad rule lacks both a logsource and detections: both are reported.
    assert {e.key for e in rs.errors} == {"logsource", "detection"}
    assert all(e.path is not None and e.path.endswith("b_bad.yml") for e in rs.errors)


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    rules, errors = load_rules([tmp_path / "missing.yml"])
    assert rules == []
    assert len(errors) == 1
    assert "cannot read" in str(errors[0])
