"""Alerts: what the engine concludes, with the evidence chain that shows why (issue 3).

An alert says which rule, correlation or scenario fired (``kind``, ``rule_id``,
``rule_title``), on which entity (host, user, address), between ``first_seen`` and
``last_seen``, how bad (``severity``, ``score``), which ATT&CK techniques, the context
that applied (night, holiday, critical asset), the playbook to propose, an explanation
for people, and every event of the chain with its source file and record offset.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kizuki.model.event import Event, format_ts

#: Sigma levels in order; ``score`` defaults follow them.
SEVERITIES = ("informational", "low", "medium", "high", "critical")
SEVERITY_SCORE = {"informational": 5.0, "low": 20.0, "medium": 45.0, "high": 70.0,
                  "critical": 90.0}


#: The tag of a building-block rule (as in Elastic Security): a scenario stage or
#: correlation input such as "any connection to the sinkhole zone". It raises no alert
#: and adds no risk of its own; it only feeds scenarios and correlations.
BUILDING_BLOCK = "kizuki.building-block"


class AlertKind(StrEnum):
    """What raised an alert."""

    rule = "rule"
    correlation = "correlation"
    scenario = "scenario"
    risk = "risk"


@dataclass(slots=True)
class Evidence:
    """One event of an alert's chain and the stage (or rule) it satisfied."""

    event: Event
    stage: str | None = None

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        e = self.event
        out: dict[str, Any] = {
            "stage": self.stage,
            "@timestamp": format_ts(e.timestamp),
            "source": e.origin.to_dict(),
            "data_type": e.data_type,
            "host": e.host,
            "user": e.user,
            "action": e.fields.get("event.action") or e.fields.get("event.code"),
        }
        if full:
            out["event"] = e.to_dict()
        return out


def entity_key(entity: dict[str, str]) -> str:
    """A stable text form of an entity: ``host=ws-05,user=tanaka``."""
    n = len(entity)
    if n == 1:
        # The common cases (a host or a user; a host and a user), without a sort call
        # or a generator: ids are computed for every alert.
        for key, value in entity.items():
            return f"{key}={value}"
    if n == 2:
        a, b = entity
        if b < a:
            a, b = b, a
        return f"{a}={entity[a]},{b}={entity[b]}"
    return ",".join([f"{k}={entity[k]}" for k in sorted(entity)])


@dataclass(slots=True)
class Alert:
    """One detection. ``id`` is stable: the same input gives the same ids."""

    kind: AlertKind
    rule_id: str
    rule_title: str
    severity: str
    score: float
    entity: dict[str, str]
    first_seen: datetime
    last_seen: datetime
    evidence: list[Evidence] = field(default_factory=list)
    attack: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""
    playbook: str | None = None
    tags: tuple[str, ...] = ()
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = self.make_id()

    def make_id(self) -> str:
        """Hash of what identifies the detection: kind, rule, entity, first evidence."""
        first = self.evidence[0].event.origin.display if self.evidence else ""
        # isoformat of the UTC time (not strftime): the same text for the same instant,
        # at a fraction of the cost; ids are computed for every alert.
        first_seen = self.first_seen
        if first_seen.tzinfo is not UTC:
            first_seen = first_seen.astimezone(UTC)
        text = "|".join((self.kind.value, self.rule_id, entity_key(self.entity),
                         first_seen.isoformat(), first))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def sort_key(self) -> tuple[datetime, datetime, str]:
        return (self.last_seen, self.first_seen, self.id)

    def to_dict(self, *, full_events: bool = False) -> dict[str, Any]:
        """The documented JSON form (docs/alerts.md)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "rule": {"id": self.rule_id, "title": self.rule_title},
            "severity": self.severity,
            "score": round(self.score, 2),
            "entity": self.entity,
            "first_seen": format_ts(self.first_seen),
            "last_seen": format_ts(self.last_seen),
            "attack": list(self.attack),
            "tactics": list(self.tactics),
            "context": self.context,
            "playbook": self.playbook,
            "explanation": self.explanation,
            "tags": list(self.tags),
            "evidence": [ev.to_dict(full=full_events) for ev in self.evidence],
        }


def attack_ids(tags: tuple[str, ...] | list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ATT&CK technique ids (``T1078.002``) and tactic names from Sigma-style tags."""
    techniques: list[str] = []
    tactics: list[str] = []
    for tag in tags:
        low = tag.lower()
        if not low.startswith("attack."):
            continue
        rest = low[len("attack."):]
        if rest[:1] == "t" and rest[1:2].isdigit():
            techniques.append(rest.upper())
        elif rest[:1] not in ("g", "s") or not rest[1:2].isdigit():
            tactics.append(rest.replace("_", "-"))
    return tuple(dict.fromkeys(techniques)), tuple(dict.fromkeys(tactics))
