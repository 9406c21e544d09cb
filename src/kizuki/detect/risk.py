"""Risk accumulation: weak signals add up per entity until they are worth an alert.

Issue 3 item 4, R16, architecture "Scenarios": as in Splunk's risk-based alerting, every
rule, correlation and scenario alert adds risk to its host and its user. The amount is
the alert's score, weighted by the criticality of the host (assets) and by when it
happened (night, holiday, off hours: the calendar), and it halves every ``half_life`` of
*event* time. An entity whose risk reaches ``threshold``, or that shows ``min_tactics``
distinct ATT&CK tactics within ``tactic_window``, raises an alert of kind ``risk``, so
weak signals that no single scenario ties together are still seen.

The detector comes last in the engine's chain. It counts the alerts of the detectors
before it (never risk alerts: no feedback loop) and, with ``count_matches``, the rules
that matched an event without raising an alert of their own (below the engine's
``min_rule_level``): those are the weak signals. The model is documented in
docs/alerts.md.

Determinism: all times are event times (an alert's ``last_seen``); each entity keeps
its own clock (its latest contribution), so alerts decided when a window closes — even
at the end of input — count as of when they happened. Re-alerting follows hysteresis:
an entity alerts again only once its risk (or its tactic count) has fallen below the
threshold, or after ``quiet_period``. Between contributions risk only decays, so
checking this at the next contribution gives the same answer as checking continuously,
whatever the batch sizes. Entities whose risk decayed below ``epsilon`` and whose tactics
left the window are forgotten in :meth:`RiskDetector.advance`.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from kizuki.detect.entities import host_key, user_key
from kizuki.model import Alert, AlertKind, Event, Evidence
from kizuki.model.alert import BUILDING_BLOCK, SEVERITY_SCORE, attack_ids, entity_key
from kizuki.model.event import format_ts
from kizuki.rules import CompiledRule

#: Rule ids of the two risk alerts.
RULE_THRESHOLD = "kizuki.risk.threshold"
RULE_TACTICS = "kizuki.risk.tactics"
TITLE_THRESHOLD = "Accumulated risk above threshold"
TITLE_TACTICS = "Several ATT&CK tactics on one entity"

#: Weight of a host's criticality; values the assets file does not name weigh 1.
DEFAULT_CRITICALITY_WEIGHTS: Mapping[str, float] = {
    "low": 0.75, "medium": 1.0, "high": 1.5, "critical": 2.0,
}

#: Entity keys of upstream alerts that name a host, and a user.
_HOST_KEYS = ("host", "host.name", "hostname", "Computer")
_USER_KEYS = ("user", "user.name", "TargetUserName", "SubjectUserName")


class CalendarLike(Protocol):
    """What risk needs from ``kizuki.context``'s calendar (times are aware UTC)."""

    def is_night(self, ts: datetime) -> bool: ...

    def is_holiday(self, ts: datetime) -> bool: ...

    def is_off_hours(self, ts: datetime) -> bool: ...


class AssetLike(Protocol):
    """One inventory entry: its criticality name (``critical``/``high``/...) or tier."""

    @property
    def criticality(self) -> str | None: ...


class AssetsLike(Protocol):
    """What risk needs from the asset inventory (``kizuki.context.Assets``)."""

    def get(self, host: str | None) -> AssetLike | None: ...


class RiskContext(Protocol):
    """The part of :class:`kizuki.context.Context` risk uses; either part may be None.

    A Protocol so that tests can pass a stub and risk does not depend on how context
    files are loaded.
    """

    @property
    def calendar(self) -> CalendarLike | None: ...

    @property
    def assets(self) -> AssetsLike | None: ...


#: Contributions a risk alert's explanation lists at most (the largest ones).
EXPLAIN_AT_MOST = 20


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """How risk accumulates, decays and alerts (defaults documented in docs/alerts.md).

    - ``threshold``: risk that raises a ``kizuki.risk.threshold`` alert.
    - ``half_life``: event time after which a contribution counts half.
    - ``rearm_fraction``: an entity alerts again after its risk fell below
      ``threshold × rearm_fraction`` (hysteresis), ...
    - ``quiet_period``: ... or this long after its last alert (``None``: never).
    - ``min_tactics`` / ``tactic_window``: distinct ATT&CK tactics within the window that
      raise a ``kizuki.risk.tactics`` alert.
    - ``epsilon``: risk decayed below it counts as none (and the entity, once its tactics
      left the window, is evicted); contributions decayed below it are no longer listed.
    - ``criticality_weights``: multiplier per asset criticality (lower-case name or tier).
    - ``night_factor`` / ``holiday_factor`` / ``off_hours_factor``: multipliers for when
      the alert happened; the largest that applies is used (night is also off hours).
    - ``count_matches``: matched rules that raised no alert of their own add their
      level's score too (the weak signals); rules tagged ``kizuki.building-block``
      add none.
    - ``min_sources``: distinct rules that must have contributed before a threshold
      alert (one scenario alert alone is not repeated as a risk alert).
    - ``max_contributions``: per entity, the oldest beyond this are dropped.
    - ``timezone``: the zone of the times written in explanations.
    """

    threshold: float = 100.0
    half_life: timedelta = timedelta(hours=24)
    rearm_fraction: float = 1.0
    quiet_period: timedelta | None = timedelta(hours=24)
    min_tactics: int = 3
    tactic_window: timedelta = timedelta(hours=24)
    epsilon: float = 0.5
    criticality_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CRITICALITY_WEIGHTS))
    night_factor: float = 2.0
    holiday_factor: float = 1.5
    off_hours_factor: float = 1.5
    count_matches: bool = True
    min_sources: int = 1
    max_contributions: int = 256
    timezone: str = "Asia/Tokyo"


@dataclass(slots=True)
class Contribution:
    """One alert's (or one unalerted match's) addition to an entity's risk."""

    time: datetime
    first_seen: datetime
    base: float
    weights: dict[str, float]
    amount: float
    rule_id: str
    rule_title: str
    kind: str
    alert_id: str | None
    event: Event | None
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]


@dataclass(slots=True)
class _EntityState:
    """One entity's risk (as of ``latest``), its recent contributions and alert state."""

    contributions: deque[Contribution] = field(default_factory=deque)
    #: How many of ``contributions`` each rule made (the distinct sources, in O(1)).
    rule_counts: dict[str, int] = field(default_factory=dict)
    risk: float = 0.0
    latest: datetime | None = None
    #: The latest time each ATT&CK tactic was seen.
    tactic_seen: dict[str, datetime] = field(default_factory=dict)
    threshold_armed: bool = True
    threshold_last: datetime | None = None
    tactics_armed: bool = True
    tactics_last: datetime | None = None


class RiskDetector:
    """Per-entity risk with decay, thresholds and tactic diversity (module doc)."""

    def __init__(self, settings: RiskSettings | None = None,
                 context: RiskContext | None = None) -> None:
        self.settings = settings or RiskSettings()
        self.context = context
        self._entities: dict[tuple[str, str], _EntityState] = {}
        self._half_life_s = max(self.settings.half_life.total_seconds(), 1e-9)
        self._tz = ZoneInfo(self.settings.timezone)
        # Rule alerts of the event being dispatched: its unalerted matches are the rest.
        self._alerted: set[tuple[str, str]] = set()
        self._sweep_every = max(self.settings.half_life / 4, timedelta(minutes=1))
        self._next_sweep: datetime | None = None
        self._time_factors: dict[int, tuple[float, str] | None] = {}

    # -- the Detector protocol ------------------------------------------------------
    def advance(self, watermark: datetime) -> Iterable[Alert]:
        """Forget entities whose risk decayed away; risk only rises on contributions."""
        if self._next_sweep is None or watermark >= self._next_sweep:
            self._evict(watermark)
            try:
                self._next_sweep = watermark + self._sweep_every
            except OverflowError:
                self._next_sweep = watermark
        return ()

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        """Add an upstream alert's risk to its host and user."""
        if alert.kind is AlertKind.risk:
            return ()
        event = alert.evidence[0].event if alert.evidence else None
        if alert.kind is AlertKind.rule and event is not None:
            self._alerted.add((alert.rule_id, event.origin.display))
        host, user = _alert_entities(alert)
        return self._contribute(
            host, user, alert.last_seen, alert.first_seen, alert.score, alert.rule_id,
            alert.rule_title, alert.kind.value, alert.id, event, alert.attack, alert.tactics)

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> Iterable[Alert]:
        """Matched rules that raised no alert of their own still add their level's score."""
        alerted, self._alerted = self._alerted, set()
        if not self.settings.count_matches:
            return ()
        out: list[Alert] = []
        where = event.origin.display
        host = host_key(event.host) if event.host else None
        user = user_key(event.user) if event.user else None
        for rule in matches:
            rule_key = rule.id or rule.title
            if (rule_key, where) in alerted:
                continue
            level = (rule.level or "medium").lower()
            if BUILDING_BLOCK in rule.tags:
                # Building blocks (a scenario stage's "any firewall connection") say what
                # happened, not that it was suspicious: they add no risk.
                continue
            techniques, tactics = attack_ids(rule.tags)
            out.extend(self._contribute(
                host, user, event.timestamp, event.timestamp,
                SEVERITY_SCORE.get(level, 45.0), rule_key, rule.title, "match", None, event,
                techniques, tactics))
        return out

    # -- state ----------------------------------------------------------------------
    @property
    def entity_count(self) -> int:
        """How many entities hold state (bounded by eviction)."""
        return len(self._entities)

    def state_size(self) -> int:
        """Entities and their remembered contributions and tactics (bounded by decay)."""
        return sum(1 + len(st.contributions) + len(st.tactic_seen)
                   for st in self._entities.values())

    def risk_of(self, kind: str, value: str, at: datetime | None = None) -> float:
        """The current risk of ``("host"|"user", value)``, at its latest time or ``at``."""
        key = (kind, host_key(value) if kind == "host" else user_key(value))
        state = self._entities.get(key)
        if state is None or state.latest is None:
            return 0.0
        return self._risk_at(state, at or state.latest)

    # -- internals ------------------------------------------------------------------
    def _contribute(self, host: str | None, user: str | None, time: datetime,
                    first_seen: datetime, score: float,
                    rule_id: str, title: str, kind: str, alert_id: str | None,
                    event: Event | None, techniques: tuple[str, ...],
                    tactics: tuple[str, ...]) -> list[Alert]:
        if score <= 0 or (host is None and user is None):
            return []
        weights = self._weights(host, time)
        amount = score * math.prod(weights.values())
        contribution = Contribution(time, min(first_seen, time), score, weights, amount,
                                    rule_id, title, kind, alert_id, event, techniques,
                                    tactics)
        out: list[Alert] = []
        for entity in (("host", host), ("user", user)):
            if entity[1] is not None:
                out.extend(self._add((entity[0], entity[1]), contribution))
        return out

    def _weights(self, host: str | None, time: datetime) -> dict[str, float]:
        """Multipliers that apply to an alert: asset criticality, time of day/year."""
        s = self.settings
        weights: dict[str, float] = {}
        ctx = self.context
        if ctx is None:
            return weights
        assets = ctx.assets
        asset = assets.get(host) if host is not None and assets is not None else None
        if asset is not None:
            level = _criticality_name(asset.criticality)
            if level is not None and level in s.criticality_weights:
                weights[f"criticality:{level}"] = float(s.criticality_weights[level])
        calendar = ctx.calendar
        if calendar is not None:
            found = self._time_factor(calendar, time)
            if found is not None:
                weights[found[1]] = found[0]
        return weights

    def _time_factor(self, calendar: Any, time: datetime) -> tuple[float, str] | None:
        """The largest time-of-day/year factor that applies (a holiday night is not three
        times unusual), remembered per minute: calendars speak in HH:MM and dates."""
        minute = int(time.timestamp() // 60)
        cache = self._time_factors
        if minute in cache:
            return cache[minute]
        s = self.settings
        applicable = [(factor, name) for factor, name, test in (
            (s.night_factor, "night", calendar.is_night),
            (s.holiday_factor, "holiday", calendar.is_holiday),
            (s.off_hours_factor, "off-hours", calendar.is_off_hours),
        ) if test(time)]
        found = max(applicable, key=lambda a: a[0]) if applicable else None
        if len(cache) >= 1 << 16:
            cache.clear()
        cache[minute] = found
        return found

    def _decayed(self, c: Contribution, at: datetime) -> float:
        age = max((at - c.time).total_seconds(), 0.0)
        return c.amount * math.pow(0.5, age / self._half_life_s)

    def _risk_at(self, state: _EntityState, at: datetime) -> float:
        """Risk decayed to ``at``; below epsilon it is nothing (as if evicted)."""
        if state.latest is None:
            return 0.0
        age = max((at - state.latest).total_seconds(), 0.0)
        risk = state.risk * math.pow(0.5, age / self._half_life_s)
        return risk if risk >= self.settings.epsilon else 0.0

    def _tactic_count(self, state: _EntityState, at: datetime) -> int:
        horizon = at - self.settings.tactic_window
        return sum(1 for seen in state.tactic_seen.values() if seen > horizon)

    def _add(self, key: tuple[str, str], contribution: Contribution) -> list[Alert]:
        s = self.settings
        state = self._entities.get(key)
        if state is None:
            state = self._entities[key] = _EntityState()
        # Each entity's clock is its latest contribution: a late-decided alert counts as
        # of when it happened, never decays to nothing at the end of input.
        at = contribution.time if state.latest is None else max(state.latest,
                                                                contribution.time)
        before = self._risk_at(state, at)
        # Hysteresis: between contributions risk and tactics only fall, so "fell below
        # at some point since the last alert" is "is below now, before this one".
        if before < s.threshold * s.rearm_fraction:
            state.threshold_armed = True
        if self._tactic_count(state, at) < s.min_tactics:
            state.tactics_armed = True
        risk = before + self._decayed(contribution, at)
        state.risk, state.latest = risk, at
        for tactic in contribution.tactics:
            seen = state.tactic_seen.get(tactic)
            if seen is None or contribution.time > seen:
                state.tactic_seen[tactic] = contribution.time
        self._append(state, contribution, at)

        out: list[Alert] = []
        # Risk alerting is for weak signals that no single detection ties together: one
        # scenario alert crossing the threshold on its own is already an alert.
        sources = len(state.rule_counts) >= s.min_sources
        if risk >= s.threshold and sources and (
                state.threshold_armed or _quiet(state.threshold_last, at, s.quiet_period)):
            state.threshold_armed = False
            state.threshold_last = at
            out.append(self._threshold_alert(key, state, at, risk))
        if self._tactic_count(state, at) >= s.min_tactics and (
                state.tactics_armed or _quiet(state.tactics_last, at, s.quiet_period)):
            state.tactics_armed = False
            state.tactics_last = at
            out.append(self._tactics_alert(key, state, at, risk))
        return out

    def _append(self, state: _EntityState, contribution: Contribution, at: datetime) -> None:
        """Keep the contributions an alert could still list; amortised O(1)."""
        s = self.settings
        queue = state.contributions
        counts = state.rule_counts
        queue.append(contribution)
        counts[contribution.rule_id] = counts.get(contribution.rule_id, 0) + 1
        horizon = at - s.tactic_window
        # Contributions arrive nearly in time order: drop from the front what no longer
        # counts (decayed below epsilon, outside the tactic window); stragglers behind a
        # live one are filtered when an alert lists them.
        while queue and (len(queue) > s.max_contributions or (
                self._decayed(queue[0], at) < s.epsilon
                and not (queue[0].tactics and queue[0].time > horizon))):
            gone = queue.popleft().rule_id
            left = counts[gone] - 1
            if left:
                counts[gone] = left
            else:
                del counts[gone]

    def _evict(self, watermark: datetime) -> None:
        for key in [k for k, st in self._entities.items() if self._expired(st, watermark)]:
            del self._entities[key]

    def _expired(self, state: _EntityState, at: datetime) -> bool:
        """Nothing left that could matter: evicting is the same as keeping it."""
        if state.latest is None or state.latest > at:
            return state.latest is None
        return self._risk_at(state, at) == 0.0 and self._tactic_count(state, at) == 0

    # -- alerts ---------------------------------------------------------------------
    def _threshold_alert(self, key: tuple[str, str], state: _EntityState, at: datetime,
                         risk: float) -> Alert:
        s = self.settings
        parts = sorted((c for c in state.contributions if self._decayed(c, at) >= s.epsilon),
                       key=_order)
        if not parts:
            parts = [state.contributions[-1]]
        severity = "critical" if risk >= 2 * s.threshold else "high"
        head = (f"Risk of {key[0]} {key[1]} reached {risk:.1f} (threshold {s.threshold:g}, "
                f"half-life {_hours(s.half_life)}) from {len(parts)} contribution(s):")
        return self._alert(RULE_THRESHOLD, TITLE_THRESHOLD, severity, key, at, risk,
                           parts, head)

    def _tactics_alert(self, key: tuple[str, str], state: _EntityState, at: datetime,
                       risk: float) -> Alert:
        s = self.settings
        horizon = at - s.tactic_window
        parts = sorted((c for c in state.contributions if c.tactics and c.time > horizon),
                       key=_order)
        tactics = list(dict.fromkeys(t for c in parts for t in c.tactics))
        severity = "critical" if len(tactics) >= s.min_tactics + 2 else "high"
        head = (f"{key[0].capitalize()} {key[1]} showed {len(tactics)} ATT&CK tactics "
                f"within {_hours(s.tactic_window)} ({', '.join(tactics)}); risk {risk:.1f}; "
                f"from {len(parts)} contribution(s):")
        return self._alert(RULE_TACTICS, TITLE_TACTICS, severity, key, at, risk, parts,
                           head)

    def _alert(self, rule_id: str, title: str, severity: str, key: tuple[str, str],
               at: datetime, risk: float, parts: list[Contribution], head: str) -> Alert:
        s = self.settings
        entity = {key[0]: key[1]}
        first = min((c.first_seen for c in parts), default=at)
        techniques: dict[str, None] = {}
        tactics: dict[str, None] = {}
        lines = [head]
        for c in parts:
            techniques.update(dict.fromkeys(c.techniques))
            tactics.update(dict.fromkeys(c.tactics))
        # People read the largest contributions (in time order); every one stays in the
        # context and the evidence for programs.
        shown = parts
        if len(parts) > EXPLAIN_AT_MOST:
            largest = sorted(parts, key=lambda c: -self._decayed(c, at))[:EXPLAIN_AT_MOST]
            keep = {id(c) for c in largest}
            shown = [c for c in parts if id(c) in keep]
        for c in shown:
            lines.append(f"- {self._local(c.time)} {c.kind} “{c.rule_title}” ({c.rule_id}): "
                         f"{_weighting(c)} → {self._decayed(c, at):.1f} now")
        if len(shown) < len(parts):
            lines.append(f"- … and {len(parts) - len(shown)} smaller contribution(s), "
                         "listed in the alert's context")
        text = "|".join(("risk", rule_id, entity_key(entity), format_ts(first),
                         format_ts(at)))
        return Alert(
            kind=AlertKind.risk,
            rule_id=rule_id,
            rule_title=title,
            severity=severity,
            score=risk,
            entity=entity,
            first_seen=first,
            last_seen=at,
            evidence=[Evidence(c.event, c.rule_id) for c in parts if c.event is not None],
            attack=tuple(techniques),
            tactics=tuple(tactics),
            context={
                "risk": round(risk, 2),
                "threshold": s.threshold,
                "half_life_hours": s.half_life.total_seconds() / 3600,
                "tactic_window_hours": s.tactic_window.total_seconds() / 3600,
                "tactics": list(tactics),
                "contributions": [self._describe(c, at) for c in parts],
            },
            explanation="\n".join(lines),
            tags=("kizuki.risk", *(f"attack.{t.replace('-', '_')}" for t in tactics)),
            id=hashlib.sha256(text.encode()).hexdigest()[:20],
        )

    def _describe(self, c: Contribution, at: datetime) -> dict[str, Any]:
        return {
            "alert": c.alert_id,
            "kind": c.kind,
            "rule": c.rule_id,
            "title": c.rule_title,
            "time": format_ts(c.time),
            "base": round(c.base, 2),
            "weights": dict(c.weights),
            "amount": round(c.amount, 2),
            "current": round(self._decayed(c, at), 2),
            "tactics": list(c.tactics),
        }

    def _local(self, ts: datetime) -> str:
        return ts.astimezone(self._tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _alert_entities(alert: Alert) -> tuple[str | None, str | None]:
    """An alert's host and user keys; from its first event when the alert names none."""
    host = next((alert.entity[k] for k in _HOST_KEYS if alert.entity.get(k)), None)
    user = next((alert.entity[k] for k in _USER_KEYS if alert.entity.get(k)), None)
    if host is None and user is None and alert.evidence:
        event = alert.evidence[0].event
        host, user = event.host, event.user
    return (host_key(host) if host else None, user_key(user) if user else None)


def _criticality_name(value: str | None) -> str | None:
    return value.strip().lower() if value else None


def _quiet(last: datetime | None, at: datetime, period: timedelta | None) -> bool:
    return last is not None and period is not None and at - last >= period


def _order(c: Contribution) -> tuple[datetime, str, str]:
    return (c.time, c.event.origin.display if c.event is not None else "", c.rule_id)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g}h"


def _weighting(c: Contribution) -> str:
    if not c.weights:
        return f"+{c.amount:.1f}"
    factors = "".join(f" ×{w:g} {name}" for name, w in c.weights.items())
    return f"{c.base:g}{factors} = +{c.amount:.1f}"
