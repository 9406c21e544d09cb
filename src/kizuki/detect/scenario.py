"""Scenarios in the engine: ordered stages on one entity, in event time (R15, R16, R19).

Per scenario, a partial *chain* is kept per entity key (``host=ws-04``). An event (one
of a stage's rules in ``matches``, an upstream correlation alert, or the stage's inline
detection, compiled as a rule) advances the chain waiting for that stage when it comes
within the stage's window and its context holds; a pivot re-keys the chain (user →
host); an absent stage is satisfied at its deadline if nothing matched before it;
chains without their next stage in time expire. One chain per key at a time keeps the
state bounded and the result deterministic.

A finished chain is held for the scenario's ``merge`` window (event time): further
events of any stage on the same entity extend it (evidence, ``last_seen``) instead of
raising a second alert. The alert is released when the window closes, so ongoing
activity gives one alert; ``merge: 0`` releases at once.

Score: the scenario's score plus the context that applied (``CONTEXT_WEIGHTS``), at
most 100 — night or a holiday counts more than business hours (R16).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kizuki.context import Context
from kizuki.context.assets import Asset
from kizuki.detect.correlation import NAME_TAG
from kizuki.detect.engine import END_OF_TIME
from kizuki.detect.entities import (
    LOOPBACK,
    host_key,
    ip_key,
    is_ip,
    kind_of,
    normal_key,
    raw_value,
)
from kizuki.detect.scenario_alert import scenario_alert
from kizuki.model import Alert, AlertKind, Event, Evidence
from kizuki.rules import CompiledRule
from kizuki.rules.scenario import (
    DEFAULT_FIELDS,
    Condition,
    EntitySource,
    Scenario,
    ScenarioSet,
    Stage,
    load_scenarios,
)

_ZONE_FIELDS = ("destination.ip", "host.name", "observer.name")


@dataclass(slots=True)
class _Item:
    """What reaches a stage: one event, or an upstream alert with its events."""

    ts: datetime
    event: Event
    events: list[Event]
    refs: frozenset[str]
    entity: dict[str, str] | None = None


@dataclass(slots=True)
class _Chain:
    serial: int
    keys: list[str]
    etype: str
    value: str
    next: int
    first: datetime
    last: datetime
    evidence: list[Evidence] = field(default_factory=list)
    seen: set[tuple[str, int, datetime]] = field(default_factory=set)
    path: dict[str, str] = field(default_factory=dict)
    absent: list[tuple[str, datetime]] = field(default_factory=list)
    version: int = 0
    completed: datetime | None = None

    def add(self, item: _Item, stage: str) -> None:
        for ev in item.events:
            o = ev.origin
            mark = (o.display, o.offset or 0, ev.timestamp)
            if mark not in self.seen:
                self.seen.add(mark)
                self.evidence.append(Evidence(ev, stage))


class _Table:
    """A learned join: key → {value: last time seen}, forgotten ``ttl`` after."""

    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl
        self.data: dict[Any, dict[str, datetime]] = {}
        self._heap: list[tuple[datetime, int, Any, str]] = []
        self._seq = 0

    def put(self, key: Any, value: str, ts: datetime) -> None:
        self.data.setdefault(key, {})[value] = ts
        self._seq += 1
        heapq.heappush(self._heap, (ts + self.ttl, self._seq, key, value))

    def get(self, key: Any) -> dict[str, datetime]:
        return self.data.get(key, {})

    def size(self) -> int:
        """Entries held, and their pending expiries."""
        return sum(len(v) for v in self.data.values()) + len(self._heap)

    def evict(self, watermark: datetime) -> None:
        heap = self._heap
        while heap and heap[0][0] < watermark:
            expiry, _, key, value = heapq.heappop(heap)
            values = self.data.get(key)
            if values is not None and value in values and values[value] + self.ttl <= expiry:
                del values[value]
                if not values:
                    del self.data[key]


class _Run:
    """The state of one scenario."""

    def __init__(self, scenario: Scenario, context: Context) -> None:
        self.s = scenario
        self.ctx = context
        self.stage_refs = [frozenset(st.rules) for st in scenario.stages]
        self.links = {lk.name: (_Table(lk.ttl), frozenset(lk.rules), lk) for lk in scenario.links}
        self.pivots: dict[int, _Table] = {}
        self.lookup: list[str] = []
        etype = scenario.entity
        for i, st in enumerate(scenario.stages):
            if st.pivot is not None:
                if st.pivot.via:
                    self.pivots[i] = _Table(max(st.within, timedelta(0)))
                    self.lookup.append(st.pivot.target)
                else:
                    self.lookup.append(st.pivot.source)
                etype = st.pivot.target
            else:
                self.lookup.append(etype)
        self.refs: frozenset[str] = frozenset().union(
            *self.stage_refs, *(v[1] for v in self.links.values()),
            *(frozenset([st.pivot.via]) for st in scenario.stages if st.pivot and st.pivot.via))
        self.chains: dict[str, _Chain] = {}
        self.done: dict[str, _Chain] = {}
        self._deadlines: list[tuple[datetime, int, int, int]] = []
        self._releases: list[tuple[datetime, int, int]] = []
        self._by_serial: dict[int, _Chain] = {}
        self._serial = 0
        #: The latest watermark of the stream itself (not the end-of-input one): how
        #: far event time is known to have gone.
        self.seen: datetime | None = None

    # -- keys -----------------------------------------------------------------------
    def _convert(self, kind: str | None, text: str, want: str, event: Event) -> str | None:
        if kind is None:
            kind = "ip" if is_ip(text) else want
        value = normal_key(kind, text)
        if kind == want:
            return value
        if kind == "ip" and want == "host":
            if value.startswith(LOOPBACK):
                host = raw_value(event, "host.name")
                return host_key(host) if host else None
            return self.ctx.host_of(value)
        if kind == "host" and want == "ip":
            a = self.ctx.asset(value)
            return ip_key(a.ips[0]) if a is not None and a.ips else None
        return None

    def _key(self, stage: Stage, item: _Item, want: str) -> str | None:
        if item.entity is not None:
            if want in item.entity:
                return normal_key(want, item.entity[want])
            for k in ("ip", "host"):
                if k in item.entity:
                    found = self._convert(k, item.entity[k], want, item.event)
                    if found:
                        return found
        event = item.event
        sources = stage.entity
        if not sources:
            sources = tuple(EntitySource(field=f) for f in DEFAULT_FIELDS[want])
        for src in sources:
            if src.field is not None:
                text = raw_value(event, src.field)
                if text is not None:
                    found = self._convert(kind_of(src.field), text, want, event)
                    if found:
                        return found
            elif src.link is not None:
                table, _, link = self.links[src.link]
                key = self._link_key(event, src.key)
                if key is None:
                    continue
                values = table.get(key)
                # The latest value wins; ties by value, so the answer never depends on
                # the order values were learned in.
                for value in sorted(values, key=lambda v: (values[v], v), reverse=True):
                    found = self._convert(kind_of(link.value), value, want, event)
                    if found:
                        return found
        return None

    @staticmethod
    def _link_key(event: Event, fields: Sequence[str]) -> tuple[str, ...] | None:
        parts = []
        for f in fields:
            text = raw_value(event, f)
            if text is None:
                return None
            parts.append(normal_key(kind_of(f), text))
        return tuple(parts)

    # -- context --------------------------------------------------------------------
    def _holds(self, cond: Condition, item: _Item, value: str) -> bool:
        event, ts, cal = item.event, item.ts, self.ctx.calendar
        if cond.time:
            tests = {"night": cal.is_night, "off_hours": cal.is_off_hours,
                     "holiday": cal.is_holiday, "weekend": cal.is_weekend,
                     "business_hours": cal.is_business_hours}
            if not any(tests[w](ts) for w in cond.time):
                return False
        if cond.criticality is not None:
            if cond.asset == "entity":
                asset = self.ctx.asset(value)
            else:
                asset = self.ctx.asset(raw_value(event, cond.asset))
            rank = asset.rank if asset is not None else 0
            op, want = cond.criticality
            ok = {">=": rank >= want, ">": rank > want, "<=": rank <= want, "<": rank < want,
                  "==": rank == want}[op]
            if not ok or asset is None:
                return False
        if cond.zone:
            fields = cond.zone_of or _ZONE_FIELDS
            if not any(self.ctx.zone_of(raw_value(event, f)) in cond.zone for f in fields):
                return False
        if cond.role or cond.not_role:
            found, named = self._role_asset(event, cond.role_of, value)
            role = found.role if found is not None else None
            if cond.role and role not in cond.role:
                return False
            # "Not an admin workstation" holds for a PC the inventory does not know,
            # but not when the event names no asset at all.
            if cond.not_role and (not named or role in cond.not_role):
                return False
        if cond.entity_role or cond.entity_not_role:
            mine = self.ctx.asset(value)
            role = mine.role if mine is not None else None
            if cond.entity_role and role not in cond.entity_role:
                return False
            if cond.entity_not_role and role in cond.entity_not_role:
                return False
        if cond.share is not None:
            server = self.ctx.asset(raw_value(event, "host.name"))
            if server is None:
                return False
            share = server.share(
                name=raw_value(event, "file.share") or raw_value(event, "ShareName"),
                path=raw_value(event, "file.path") or raw_value(event, "ObjectName"))
            if share is None or (cond.share == "important" and not share.important):
                return False
        return True

    def _role_asset(self, event: Event, fields: Sequence[str], value: str
                    ) -> tuple[Asset | None, bool]:
        """The asset a role condition asks about (first of ``fields`` the inventory
        knows; a loopback address is the event's own host), and whether any field
        named one at all."""
        named = False
        for f in fields or ("host.name",):
            text = value if f == "entity" else raw_value(event, f)
            if text is None:
                continue
            if text.startswith(LOOPBACK) and is_ip(text):
                text = raw_value(event, "host.name")
                if text is None:
                    continue
            named = True
            found = self.ctx.asset(text)
            if found is not None:
                return found, True
        return None, named

    # -- events ---------------------------------------------------------------------
    def on_item(self, item: _Item) -> list[Alert]:
        out: list[Alert] = []
        for table, refs, link in self.links.values():
            if refs & item.refs:
                key = self._link_key(item.event, link.key)
                value = raw_value(item.event, link.value)
                if key is not None and value is not None:
                    table.put(key, value, item.ts)
        for i, table in self.pivots.items():
            pivot = self.s.stages[i].pivot
            assert pivot is not None and pivot.via is not None
            if pivot.via in item.refs:
                src = self._key(Stage("", (), timedelta(0), ()), item, pivot.source)
                dst = self._key(Stage("", (), timedelta(0), ()), item, pivot.target)
                if src and dst:
                    table.put(dst, src, item.ts)
        touched: set[int] = set()
        for i in range(len(self.s.stages) - 1, -1, -1):
            if self.stage_refs[i] & item.refs:
                self._stage(i, item, touched, out)
        return out

    def _stage(self, i: int, item: _Item, touched: set[int], out: list[Alert]) -> None:
        stage = self.s.stages[i]
        want = self.lookup[i]
        value = self._key(stage, item, want)
        if value is None:
            return
        if stage.condition is not None and not self._holds(stage.condition, item, value):
            return
        pivot = stage.pivot
        if pivot is not None and pivot.via:
            linked = self.pivots[i].get(value)
            keys = [(f"{pivot.source}={u}", linked[u]) for u in sorted(linked)]
        else:
            keys = [(f"{want}={value}", item.ts)]
        for key, link_ts in keys:
            done = self.done.get(key)
            if done is not None:
                if not stage.absent and done.serial not in touched:
                    touched.add(done.serial)
                    done.add(item, stage.name)
                    done.last = max(done.last, item.ts)
                continue
            chain = self.chains.get(key)
            if chain is None:
                if i == 0:
                    self._start(key, want, value, item, stage, out)
                continue
            if chain.serial in touched:
                continue
            if chain.next == i:
                if item.ts > chain.last + stage.within or link_ts < chain.last:
                    continue
                touched.add(chain.serial)
                if stage.absent:
                    self._drop(chain)
                    continue
                chain.add(item, stage.name)
                chain.next += 1
                chain.last = item.ts
                if pivot is not None:
                    self._pivot(chain, stage, item, value)
                self._progress(chain, item.ts, out)
            elif chain.next == i + 1 and not stage.absent:
                touched.add(chain.serial)
                chain.add(item, stage.name)
                chain.last = max(chain.last, item.ts)
                self._schedule(chain)

    def _start(self, key: str, etype: str, value: str, item: _Item, stage: Stage,
               out: list[Alert]) -> None:
        self._serial += 1
        chain = _Chain(self._serial, [key], etype, value, 1, item.ts, item.ts,
                       path={etype: value})
        chain.add(item, stage.name)
        self._by_serial[chain.serial] = chain
        self.chains[key] = chain
        self._progress(chain, item.ts, out)

    def _pivot(self, chain: _Chain, stage: Stage, item: _Item, value: str) -> None:
        pivot = stage.pivot
        assert pivot is not None
        if pivot.via:
            new = value
        else:
            fields = (pivot.to_field,) if pivot.to_field else None
            probe = Stage("", (), timedelta(0), tuple(
                EntitySource(field=f) for f in (fields or DEFAULT_FIELDS[pivot.target])))
            found = self._key(probe, _Item(item.ts, item.event, item.events, item.refs,
                                           None), pivot.target)
            if found is None:
                return
            new = found
        key = f"{pivot.target}={new}"
        chain.etype, chain.value = pivot.target, new
        chain.path[pivot.target] = new
        if key not in chain.keys:
            other = self.chains.get(key)
            if other is not None and other is not chain:
                self._drop(other)
            chain.keys.append(key)
            self.chains[key] = chain

    def _progress(self, chain: _Chain, ts: datetime, out: list[Alert]) -> None:
        if chain.next >= len(self.s.stages):
            self._complete(chain, ts, out)
        else:
            self._schedule(chain)

    def _schedule(self, chain: _Chain) -> None:
        chain.version += 1
        deadline = chain.last + self.s.stages[chain.next].within
        heapq.heappush(self._deadlines, (deadline, chain.serial, chain.version, chain.next))

    def _drop(self, chain: _Chain) -> None:
        for k in chain.keys:
            if self.chains.get(k) is chain:
                del self.chains[k]
        chain.version += 1
        self._by_serial.pop(chain.serial, None)

    def _complete(self, chain: _Chain, ts: datetime, out: list[Alert]) -> None:
        self._drop(chain)
        chain.completed = ts
        if self.s.merge <= timedelta(0):
            out.append(self._alert(chain))
            return
        self._by_serial[chain.serial] = chain
        for k in chain.keys:
            self.done[k] = chain
        heapq.heappush(self._releases, (ts + self.s.merge, chain.serial, chain.serial))

    # -- time -----------------------------------------------------------------------
    def advance(self, watermark: datetime) -> list[Alert]:
        out: list[Alert] = []
        heap = self._deadlines
        closing = watermark >= END_OF_TIME
        if not closing and (self.seen is None or watermark > self.seen):
            self.seen = watermark
        while heap and heap[0][0] < watermark:
            deadline, serial, version, _ = heapq.heappop(heap)
            chain = self._by_serial.get(serial)
            if chain is None or chain.version != version or chain.completed is not None:
                continue
            stage = self.s.stages[chain.next]
            if not stage.absent:
                self._drop(chain)
                continue
            if closing and (self.seen is None or deadline > self.seen):
                # The input ended before the deadline: nothing proves the silence after
                # the last event seen, so the chain stays undecided (no alert). Live, the
                # watermark passes the deadline as time goes by and decides it.
                self._drop(chain)
                continue
            chain.absent.append((stage.name, deadline))
            chain.next += 1
            chain.last = deadline
            self._progress(chain, deadline, out)
        releases = self._releases
        while releases and releases[0][0] < watermark:
            _, serial, _ = heapq.heappop(releases)
            chain = self._by_serial.pop(serial, None)
            if chain is None:
                continue
            for k in chain.keys:
                if self.done.get(k) is chain:
                    del self.done[k]
            out.append(self._alert(chain))
        for table, _, _ in self.links.values():
            table.evict(watermark)
        for table in self.pivots.values():
            table.evict(watermark)
        return out

    def state_size(self) -> int:
        """Chains, pending deadlines and releases, and learned join entries held now."""
        size = len(self.chains) + len(self.done) + len(self._by_serial)
        size += len(self._deadlines) + len(self._releases)
        for table in [*(t for t, _, _ in self.links.values()), *self.pivots.values()]:
            size += table.size()
        return size

    # -- alerts ---------------------------------------------------------------------
    def _alert(self, chain: _Chain) -> Alert:
        return scenario_alert(self.s, self.ctx, chain.evidence, chain.path, chain.absent)


class ScenarioDetector:
    """The engine's scenario detector (the ``Detector`` protocol of detect.engine).

    ``ScenarioDetector(scenarios, context)``; the scenarios' Sigma rules (folder rules
    and inline stage detections) must be in the engine's ``RuleIndex`` — see
    :meth:`from_paths`.
    """

    def __init__(self, scenarios: Sequence[Scenario], context: Context | None = None) -> None:
        self.context = context or Context()
        self.scenarios = list(scenarios)
        self._runs = [_Run(s, self.context) for s in self.scenarios]
        self._by_ref: dict[str, list[int]] = {}
        for i, run in enumerate(self._runs):
            for ref in sorted(run.refs):
                self._by_ref.setdefault(ref, []).append(i)

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path] | str | Path,
                   context: Context | str | Path | None = None,
                   ) -> tuple[ScenarioDetector, ScenarioSet]:
        """Load scenario folders/files and a context (a :class:`Context` or a folder).

        Returns the detector and the :class:`ScenarioSet` (its ``rules`` go into the
        engine's ``RuleIndex``; its ``errors`` should be reported).
        """
        loaded = load_scenarios(paths)
        if context is not None and not isinstance(context, Context):
            context = Context.load(context)
        return cls(loaded.scenarios, context), loaded

    def _dispatch(self, item: _Item) -> list[Alert]:
        runs: set[int] = set()
        for ref in item.refs:
            runs.update(self._by_ref.get(ref, ()))
        out: list[Alert] = []
        for i in sorted(runs):
            out.extend(self._runs[i].on_item(item))
        return out

    def advance(self, watermark: datetime) -> Iterable[Alert]:
        out: list[Alert] = []
        for run in self._runs:
            out.extend(run.advance(watermark))
        return out

    def state_size(self) -> int:
        """Everything held for all scenarios right now (bounded by their windows)."""
        return sum(run.state_size() for run in self._runs)

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> Iterable[Alert]:
        refs = frozenset(x for r in matches for x in (r.id, r.name, r.title) if x)
        if not refs & self._by_ref.keys():
            return ()
        return self._dispatch(_Item(event.timestamp, event, [event], refs))

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        if alert.kind not in (AlertKind.correlation, AlertKind.scenario) or not alert.evidence:
            return ()
        # A correlation answers to its id and title (rule_id, rule_title) and to its
        # name, which its alerts carry as a tag (detect.correlation.NAME_TAG).
        names = (t[len(NAME_TAG):] for t in alert.tags if t.startswith(NAME_TAG))
        refs = frozenset(x for x in (alert.rule_id, alert.rule_title, *names) if x)
        if not refs & self._by_ref.keys():
            return ()
        events = [e.event for e in alert.evidence]
        return self._dispatch(_Item(alert.last_seen, events[-1], events, refs,
                                    dict(alert.entity)))
