"""One engine for live streams and for the past (architecture: "a pure function of the
ordered event stream").

Matching a Sigma rule is stateless, so it runs on every event as it arrives. Everything
stateful (correlations, scenarios, risk) sees the *matched* events only, released in
event-time order through a reorder buffer: an event waits until the watermark (the
latest time seen minus the allowed lateness) passes it, then goes to the detectors
sorted by ``(timestamp, source, offset)``. So the alerts are the same whatever the batch
sizes and whatever the arrival order within the lateness, and the state held is the
matched events only (style §6, issue 3 item 6–7).

``kizuki hunt`` over files uses an unbounded lateness (everything is known up front: the
buffer holds only matches, and is sorted once at the end); the live service sets a
lateness such as 5 minutes and calls :meth:`Engine.feed` with whatever arrives.

Detectors form a chain: each gets the matched events in order, plus the alerts of the
detectors before it (a scenario stage may be a correlation; risk counts everything).
Before an event at time *t* is handed over, every detector is advanced to *t*, so
windows that close and stages that were due to happen (absent stages) are decided at
their event-time deadline, never at the wall-clock moment the data happened to arrive.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from kizuki.model import Alert, AlertKind, Event, Evidence
from kizuki.model.alert import BUILDING_BLOCK, SEVERITIES, SEVERITY_SCORE, attack_ids
from kizuki.rules import CompiledRule, RuleIndex

#: The far future: advancing to it closes every window.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class Detector(Protocol):
    """A stateful detector fed in event-time order by the :class:`Engine`."""

    def advance(self, watermark: datetime) -> Iterable[Alert]:
        """Time has reached ``watermark``: decide what was due before it."""
        ...

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> Iterable[Alert]:
        """``event`` matched ``matches`` (never empty)."""
        ...

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        """An upstream detector raised ``alert`` (correlations for scenarios, all for risk)."""
        ...


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine runs: allowed lateness, and which single-rule alerts to raise.

    ``lateness=None`` means unbounded (batch hunts); a live service sets a duration.
    ``min_rule_level``: matched rules below this Sigma level are kept as signals for
    correlations, scenarios and risk but raise no alert of their own.
    ``correlation_only_rules``: rules referenced by correlations with ``generate: false``
    (Sigma 2) raise no alert of their own either; the loader fills this.
    """

    lateness: timedelta | None = None
    min_rule_level: str = "low"
    silent_rules: frozenset[str] = frozenset()


#: A matched event waiting for the watermark: (time, source, offset, arrival number,
#: event, matched rules). A plain tuple, so the reorder heap compares in C; the arrival
#: number is unique, so events and rule lists are never compared.
_Pending = tuple[datetime, str, int, int, Event, list[CompiledRule]]


class RuleAlerts:
    """The first detector: one alert per single-event rule match (kind ``rule``)."""

    def __init__(self, min_level: str = "low", silent: frozenset[str] = frozenset()) -> None:
        self._min = SEVERITIES.index(min_level) if min_level in SEVERITIES else 1
        self._silent = silent
        # What an alert of each rule says besides its event, worked out once per rule.
        self._plans: dict[int, _RulePlan | None] = {}

    def advance(self, watermark: datetime) -> Iterable[Alert]:
        return ()

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        return ()

    def _plan(self, rule: CompiledRule) -> _RulePlan | None:
        level = (rule.level or "medium").lower()
        rank = SEVERITIES.index(level) if level in SEVERITIES else 2
        rule_key = rule.id or rule.title
        if rank < self._min or rule_key in self._silent or \
                (rule.name or "") in self._silent or BUILDING_BLOCK in rule.tags:
            return None
        techniques, tactics = attack_ids(rule.tags)
        return _RulePlan(rule_key, rule.title, level if level in SEVERITIES else "medium",
                         SEVERITY_SCORE.get(level, 45.0), techniques, tactics,
                         f"Sigma rule “{rule.title}” matched one event.", tuple(rule.tags))

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> Iterable[Alert]:
        out: list[Alert] = []
        plans = self._plans
        for rule in matches:
            key = id(rule)
            if key in plans:
                plan = plans[key]
            else:
                plan = plans[key] = self._plan(rule)
            if plan is None:
                continue
            entity = {k: v for k, v in (("host", event.host), ("user", event.user)) if v}
            out.append(Alert(
                kind=AlertKind.rule,
                rule_id=plan.rule_id,
                rule_title=plan.title,
                severity=plan.severity,
                score=plan.score,
                entity=entity,
                first_seen=event.timestamp,
                last_seen=event.timestamp,
                evidence=[Evidence(event, plan.rule_id)],
                attack=plan.attack,
                tactics=plan.tactics,
                explanation=plan.explanation,
                tags=plan.tags,
            ))
        return out


@dataclass(frozen=True, slots=True)
class _RulePlan:
    rule_id: str
    title: str
    severity: str
    score: float
    attack: tuple[str, ...]
    tactics: tuple[str, ...]
    explanation: str
    tags: tuple[str, ...]


class Engine:
    """Rules, then the detector chain, over events in any batches (see module doc)."""

    def __init__(
        self,
        index: RuleIndex,
        detectors: Sequence[Detector] = (),
        settings: EngineSettings | None = None,
    ) -> None:
        self.index = index
        self.settings = settings or EngineSettings()
        self.detectors: list[Detector] = [
            RuleAlerts(self.settings.min_rule_level, self.settings.silent_rules),
            *detectors,
        ]
        self._buffer: list[_Pending] = []
        self._max_seen: datetime | None = None
        self._released: tuple[datetime, str, int] | None = None
        self._arrivals = 0
        self.events_seen = 0
        self.events_matched = 0
        self.late_events = 0

    @property
    def pending(self) -> int:
        """Matched events waiting in the reorder buffer for the watermark."""
        return len(self._buffer)

    # -- input ---------------------------------------------------------------------
    def feed(self, events: Iterable[Event]) -> list[Alert]:
        """Match a batch of events and release what the watermark allows."""
        candidates = self.index.candidates

        def matched() -> Iterator[tuple[Event, list[CompiledRule]]]:
            for event in events:
                self.events_seen += 1
                yield event, [rule for rule, pred in candidates(event) if pred(event)]

        return self.feed_matched(matched())

    def feed_matched(
        self, pairs: Iterable[tuple[Event, Sequence[CompiledRule]]], *, seen: int = 0
    ) -> list[Alert]:
        """Like :meth:`feed` for events already matched elsewhere (the columnar scan).

        ``seen`` counts the events the caller read, including those that matched nothing,
        so that the statistics stay true.
        """
        self.events_seen += seen
        lateness = self.settings.lateness
        buffer = self._buffer
        max_seen = self._max_seen
        for event, matched in pairs:
            ts = event.timestamp
            if max_seen is None or ts > max_seen:
                max_seen = ts
            if not matched:
                continue
            origin = event.origin
            self._arrivals += 1
            pending: _Pending = (ts, origin.display, origin.offset or 0, self._arrivals,
                                 event, list(matched))
            if self._released is not None and pending[:3] < self._released:
                self.late_events += 1
                continue
            self.events_matched += 1
            if lateness is None:
                buffer.append(pending)
            else:
                heapq.heappush(buffer, pending)
        self._max_seen = max_seen
        if lateness is None or max_seen is None:
            return []
        return list(self._release(max_seen - lateness))

    def close(self) -> list[Alert]:
        """End of input: release everything, close every window."""
        return list(self.close_stream())

    def close_stream(self) -> Iterator[Alert]:
        """:meth:`close` as alerts are decided, so a caller can write each and let it go
        (a hunt with many alerts then never holds them all)."""
        if self.settings.lateness is None:
            self._buffer.sort()
            pending, self._buffer = self._buffer, []
            yield from self._deliver(pending)
        else:
            yield from self._release(END_OF_TIME)
        yield from self._advance_all(END_OF_TIME)

    def run(self, events: Iterable[Event], batch_size: int = 10_000) -> list[Alert]:
        """Feed a whole stream and close: the alerts in the order they were decided."""
        return list(self.run_stream(events, batch_size))

    def run_stream(self, events: Iterable[Event], batch_size: int = 10_000
                   ) -> Iterator[Alert]:
        """:meth:`run` as alerts are decided (fed in batches of ``batch_size``)."""
        batch: list[Event] = []
        for event in events:
            batch.append(event)
            if len(batch) >= batch_size:
                yield from self.feed(batch)
                batch = []
        yield from self.feed(batch)
        yield from self.close_stream()

    # -- ordered delivery -------------------------------------------------------------
    def _release(self, watermark: datetime) -> Iterator[Alert]:
        buffer = self._buffer
        ready: list[_Pending] = []
        while buffer and buffer[0][0] <= watermark:
            ready.append(heapq.heappop(buffer))
        yield from self._deliver(ready)

    def _deliver(self, ready: list[_Pending]) -> Iterator[Alert]:
        for ts, source, offset, _arrival, event, matches in ready:
            self._released = (ts, source, offset)
            yield from self._advance_all(ts)
            yield from self._dispatch(event, matches)

    def _advance_all(self, watermark: datetime) -> Iterator[Alert]:
        for i, detector in enumerate(self.detectors):
            for alert in detector.advance(watermark):
                yield alert
                yield from self._cascade(i, alert)

    def _dispatch(self, event: Event, matches: list[CompiledRule]) -> Iterator[Alert]:
        for i, detector in enumerate(self.detectors):
            for alert in detector.on_event(event, matches):
                yield alert
                yield from self._cascade(i, alert)

    def _cascade(self, origin: int, alert: Alert) -> Iterator[Alert]:
        """Hand an alert to the detectors after the one that raised it."""
        for j in range(origin + 1, len(self.detectors)):
            for derived in self.detectors[j].on_alert(alert):
                yield derived
                yield from self._cascade(j, derived)


def run_engine(index: RuleIndex, events: Iterable[Event], detectors: Sequence[Detector] = (),
               settings: EngineSettings | None = None) -> list[Alert]:
    """Convenience: one engine over one stream."""
    return Engine(index, detectors, settings).run(events)
