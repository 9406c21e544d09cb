"""The grep-first scan finds exactly what the full scan finds (issue 3 item 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kizuki.detect.grep import GrepScan, byte_needles
from kizuki.rules import RuleIndex, rules_from_yaml
from kizuki.sources import Reader

from ..conftest import SHARED

SCENARIO_RULES = r"""
title: secret share read
id: 5a0f0c1e-0000-4000-8000-000000000101
logsource: {product: windows, service: security}
detection:
  s: {event.code: '4663', file.path|startswith: '\\\\fs01\secret\'}
  condition: s
---
title: sinkhole connection
id: 5a0f0c1e-0000-4000-8000-000000000102
logsource: {product: windows, service: security}
detection:
  s: {event.code: '5156', destination.ip: 10.255.255.1}
  condition: s
"""

LINES = [
    b'{"@timestamp":"2024-03-04T13:00:00.000Z","event":{"code":"4663"},"host":{"name":"WS-1"},'
    b'"file":{"path":"\\\\\\\\FS01\\\\Secret\\\\pay.xlsx"}}',
    b'{"@timestamp":"2024-03-04T13:00:01.000Z","event":{"code":"4663"},"host":{"name":"WS-2"},'
    b'"file":{"path":"\\\\\\\\fs01\\\\secretary\\\\a.txt"}}',
    b'{"@timestamp":"2024-03-04T13:00:02.000Z","event":{"code":"5156"},"host":{"name":"WS-1"},'
    b'"destination":{"ip":"10.255.255.1"}}',
    b"not json but mentions 10.255.255.1",
    b'{"@timestamp":"2024-03-04T13:00:03.000Z","event":{"code":"5156"},"host":{"name":"WS-3"},'
    b'"destination":{"ip":"10.255.255.10"}}',
]


def _pairs_full(index: RuleIndex, path: Path) -> list[tuple[int | None, list[str | None]]]:
    out = []
    for event in Reader().read([path]):
        matched = index.match(event)
        if matched:
            out.append((event.origin.offset, [r.id for r in matched]))
    return out


def test_same_matches_as_the_full_scan_and_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    loaded = rules_from_yaml(SCENARIO_RULES)
    assert not loaded.errors
    index = RuleIndex(loaded.rules)
    needles = byte_needles(loaded.rules)
    assert needles is not None and b"10.255.255.1" in needles
    scan = GrepScan(index, needles)
    got = [(e.origin.offset, [r.id for r in m]) for e, m in scan.matches([path])]
    assert got == _pairs_full(index, path)
    # \\FS01\Secret\ matched case-insensitively; \\fs01\secretary\ did not.
    assert [offset for offset, _ in got] == [0, len(LINES[0]) + len(LINES[1]) + 2]
    assert scan.rows == 5
    # The malformed line holds a needle: it is parsed, and reported like the full scan.
    assert [w.kind for w in scan.warnings] == ["bad-json"]


def test_rules_without_a_safe_literal_fall_back() -> None:
    regex_only = rules_from_yaml(
        "title: r\nlogsource: {product: windows}\n"
        "detection:\n  s: {CommandLine|re: 'a.*b'}\n  condition: s\n")
    assert byte_needles(regex_only.rules) is None
    html_literal = rules_from_yaml(
        "title: h\nlogsource: {product: windows}\n"
        "detection:\n  s: {CommandLine|contains: '<script>'}\n  condition: s\n")
    # Go's JSON encoder writes < as \u003c: such a literal is not searched as bytes.
    assert byte_needles(html_literal.rules) is None


@pytest.mark.skipif(not (SHARED.parent / "bench" / "gen_events.py").exists(),
                    reason="the shared benchmark workload generator is not beside the checkout")
def test_equal_on_the_shared_workload(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    subprocess.run([sys.executable, str(SHARED.parent / "bench" / "gen_events.py"), "-n",
                    "30000", "-k", "3", "--seed", "2", "-o", str(path), "--truth",
                    str(tmp_path / "t.json")], check=True, capture_output=True)
    loaded = rules_from_yaml(SCENARIO_RULES)
    index = RuleIndex(loaded.rules)
    needles = byte_needles(loaded.rules)
    assert needles is not None
    scan = GrepScan(index, needles)
    got = [(e.origin.offset, [r.id for r in m]) for e, m in scan.matches([path])]
    assert got == _pairs_full(index, path)
    assert got and scan.rows == 30000 and scan.candidates < 30000 // 10
