"""Which scan `kizuki hunt` takes for which input (kizuki.detect.hunt), same alerts all ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

import kizuki.detect.hunt as hunt_mod
from kizuki.demo import generate
from kizuki.detect.hunt import hunt, load_detection
from kizuki.rules import rules_from_yaml

RULE = """
title: Failed logon
id: 2f9cbd5c-3d1b-4a43-9b5c-4a2c3c0de001
logsource: {product: windows, service: security}
detection:
  selection: {event.code: '4625'}
  condition: selection
level: medium
"""


def _write(path: Path, n: int) -> None:
    lines = []
    for i in range(n):
        code = "4625" if i % 2 else "4624"
        lines.append(orjson.dumps({
            "@timestamp": f"2024-03-04T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "event": {"code": code}, "host": {"name": f"WS-{i % 7:02d}"},
            "user": {"name": f"user{i % 5}"},
        }))
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize("jobs", [1, 2])
def test_one_ecs_file_takes_the_columnar_scan(tmp_path: Path, jobs: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """One big ECS JSON-lines file is scanned in Arrow whatever ``--jobs`` says: worker
    processes share out whole files, so with one file they would only run row by row."""
    path = tmp_path / "events.jsonl"
    _write(path, 400)
    calls: list[Any] = []
    real = hunt_mod.scan_jsonl

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(hunt_mod, "scan_jsonl", spy)
    monkeypatch.setattr(hunt_mod, "candidate_share", lambda paths, needles: 1.0)
    detection = load_detection(builtin=False)
    detection.rules = rules_from_yaml(RULE).rules
    result = hunt([path], detection, jobs=jobs)
    assert calls, "the columnar scan was not used"
    assert result.events_seen == 400
    assert sum(a.rule_title == "Failed logon" for a in result.alerts) == 200


def test_streamed_alerts_are_the_collected_ones(tmp_path: Path) -> None:
    """``on_alert`` receives exactly the alerts a collecting hunt returns, in order, and
    the result still counts them by kind (the CLI streams JSON lines and CSV this way)."""
    generate(tmp_path / "demo")
    detection = load_detection(context_dir=tmp_path / "demo" / "context")
    kept = hunt([tmp_path / "demo"], detection)
    streamed: list[Any] = []
    result = hunt([tmp_path / "demo"], detection, on_alert=streamed.append)
    assert result.alerts == []
    assert [a.id for a in streamed] == [a.id for a in kept.alerts]
    assert sum(result.counts.values()) == len(kept.alerts) > 0
    assert result.counts["scenario"] == 1  # the week's S7 instance
