"""Load the rule test cases in tests/rules/data (rule + events + expected matches)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kizuki.model import Event, LogSource, Origin

DATA = Path(__file__).parent / "data"
DEFAULT_TIME = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)


@dataclass
class Case:
    """One test case: a rule text, named events, the ids it must match."""

    id: str
    rule: str
    events: dict[str, Event]
    expect: list[str]
    config: dict[str, list[str]] = field(default_factory=dict)


def _logsource(d: dict[str, Any] | None) -> LogSource:
    d = d or {}
    return LogSource(d.get("product"), d.get("service"), d.get("category"))


def make_event(name: str, spec: dict[str, Any], default_ls: LogSource) -> Event:
    """An event from a case: plain original fields, or a spec with ``original``."""
    if "original" not in spec:
        spec = {"original": spec}
    ts = spec.get("timestamp")
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return Event(
        timestamp=ts or DEFAULT_TIME,
        data_type="test:rules:event",
        fields=dict(spec.get("fields") or {}),
        original=dict(spec.get("original") or {}),
        logsource=_logsource(spec["logsource"]) if "logsource" in spec else default_ls,
        origin=Origin(path=f"case:{name}"),
        message=spec.get("message"),
    )


def load_cases() -> list[Case]:
    """Every case of every data file, with ids ``file::name``."""
    out: list[Case] = []
    for path in sorted(DATA.glob("*.yml")):
        for raw in yaml.safe_load(path.read_text("utf-8")):
            rule_docs = [d for d in yaml.safe_load_all(raw["rule"]) if d]
            default_ls = _logsource(raw.get("logsource") or rule_docs[0].get("logsource"))
            events = {
                str(k): make_event(str(k), v, default_ls) for k, v in raw["events"].items()
            }
            out.append(
                Case(
                    id=f"{path.stem}::{raw['name']}",
                    rule=raw["rule"],
                    events=events,
                    expect=[str(x) for x in raw["expect"]],
                    config=raw.get("config") or {},
                )
            )
    return out
