"""Sigma correlation rules over event-time sliding windows (issue 3 item 2; R15, R16).

:class:`CorrelationDetector` runs every Sigma 2.x correlation type — event_count,
value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile,
value_median — with group-by, aliases, timespan, ``generate`` and chained correlations,
as a :class:`~kizuki.detect.engine.Detector`. The exact semantics (windows, boundaries,
suppression, chaining) are documented in ``docs/correlations.md``; in short:

- A window is ``timespan`` long and both ends are inclusive: entries at ``t - span`` and
  ``t`` are in the window ending at ``t``.
- ``gt``/``gte`` conditions (and the temporal types' default condition) are decided
  eagerly: the alert fires at the event that makes the window ending at it satisfy the
  condition. Then the group is quiet until that window has fully slid past
  (``last_seen + timespan``), so a later alert never shares an event with it.
- ``lt``/``lte``/``eq``/``neq`` can only be decided on a complete window: a window opens
  at the group's first entry, closes ``timespan`` later and is decided then (at the
  first :meth:`advance` past it); the next window opens at the next entry.
- A correlation that references another one counts that correlation's alerts; the chain
  is handled inside this detector, children before parents.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime

from sigma.correlations import SigmaCorrelationRule

from kizuki.detect.correlation_plan import (
    NAME_TAG,
    TRACK,
    Group,
    Plan,
    T,
    compile_plans,
    correlation_key,
    entity_of,
    evaluate,
    explain,
    field_value,
    fmt_number,
    name_tag,
    rule_key,
)
from kizuki.detect.windows import (
    Entry,
    OrderedChains,
    Window,
    by_delivery,
    latest_per_rule,
    longest_chain,
    number,
)
from kizuki.model import Alert, AlertKind, Event, Evidence
from kizuki.model.alert import SEVERITY_SCORE, attack_ids
from kizuki.rules import CompiledRule, RuleError


class CorrelationDetector:
    """Sigma correlation rules as a detector (see the module doc and docs/correlations.md).

    ``correlations`` and ``rules`` are what :func:`kizuki.rules.load_ruleset` gives
    (``RuleSet.correlations``, ``RuleSet.rules``). A correlation that cannot run
    (unknown reference, reference cycle, missing percentile, extended condition on
    temporal_ordered) is left out and reported in :attr:`errors`.
    """

    def __init__(self, correlations: Sequence[SigmaCorrelationRule],
                 rules: Sequence[CompiledRule]) -> None:
        self._inputs = (correlations, rules)
        compiled = compile_plans(correlations, rules)
        self.errors: list[RuleError] = compiled.errors
        self._plans = compiled.plans
        self._by_rule = compiled.by_rule
        self._silent = compiled.silent
        self._seq = 0
        self._clock: datetime | None = None

    def fresh(self) -> CorrelationDetector:
        """The same correlations with no state: for another engine (plans hold windows)."""
        return CorrelationDetector(*self._inputs)

    # -- public -------------------------------------------------------------------------
    def silent_rules(self) -> frozenset[str]:
        """Ids and names of rules referenced with ``generate: false``: no alert of their own.

        Pass it as ``EngineSettings(silent_rules=...)``.
        """
        return self._silent

    def state_size(self) -> int:
        """Entries, chains and groups held right now (memory is bounded by the timespan)."""
        total = 0
        for plan in self._plans:
            for group in plan.groups.values():
                total += 1
                if group.window is not None:
                    total += len(group.window)
                if group.latest is not None:
                    total += sum(1 for e in group.latest if e is not None)
                if group.chains is not None:
                    total += group.chains.size()
        return total

    def on_alert(self, alert: Alert) -> Iterable[Alert]:
        """Correlations chain each other inside this detector; other alerts are not used."""
        return ()

    def advance(self, watermark: datetime) -> list[Alert]:
        """Decide the lt/lte/eq/neq windows closed before ``watermark``; forget stale groups."""
        out: list[Alert] = []
        if self._clock is None or watermark > self._clock:
            self._clock = watermark
        for plan in self._plans:
            heap = plan.deadlines
            while heap and heap[0][0] < watermark:
                _, _, key = heapq.heappop(heap)
                group = plan.groups.pop(key, None)
                if group is not None and group.window is not None:
                    out.extend(self._decide(plan, key, group))
            if plan.eager:
                groups = plan.groups
                span = plan.span
                while groups:
                    key, group = next(iter(groups.items()))
                    if group.last_ts + span >= watermark:
                        break
                    del groups[key]
        return out

    def on_event(self, event: Event, matches: Sequence[CompiledRule]) -> list[Alert]:
        """Count ``event`` in every correlation that references one of ``matches``."""
        ts = event.timestamp
        # The engine has advanced already; this keeps direct callers equally exact.
        out = self.advance(ts) if self._clock is None or ts > self._clock else []
        by_rule = self._by_rule
        if len(matches) == 1:
            targets = by_rule.get(rule_key(matches[0]), ())
        else:
            merged: dict[int, tuple[Plan, set[int]]] = {}
            for rule in matches:
                for plan, idxs in by_rule.get(rule_key(rule), ()):
                    merged.setdefault(plan.position, (plan, set()))[1].update(idxs)
            targets = [(plan, tuple(sorted(idxs))) for _, (plan, idxs) in sorted(merged.items())]
        cache: dict[str, str | None] = {}
        for plan, idxs in targets:
            by_key: dict[tuple[str, ...], list[int]] = {}
            for idx in idxs:
                parts: list[str] = []
                for name in plan.group_fields[idx]:
                    if name in cache:
                        found = cache[name]
                    else:
                        found = cache[name] = field_value(event, name)
                    if found is None:
                        break  # group-by is enforced: no value, no group
                    parts.append(found)
                else:
                    by_key.setdefault(tuple(parts), []).append(idx)
            for key, members in by_key.items():
                stage = plan.refs[members[0]] if len(members) == 1 else \
                    "+".join(plan.refs[i] for i in members)
                self._seq += 1
                entry = Entry(ts, self._seq, tuple(members), (Evidence(event, stage),),
                              self._event_value(plan, event, members[0]))
                out.extend(self._add(plan, key, entry))
        return out

    # -- counting -----------------------------------------------------------------------
    def _entry(self, ts: datetime, indices: tuple[int, ...], evidence: tuple[Evidence, ...],
               value: Hashable | None) -> Entry:
        self._seq += 1
        return Entry(ts, self._seq, indices, evidence, value)

    def _event_value(self, plan: Plan, event: Event, idx: int) -> Hashable | None:
        if plan.value_fields is None:
            return None
        names = plan.value_fields[idx]
        if plan.type is T.VALUE_COUNT:
            found = [field_value(event, n) for n in names]
            if any(v is None for v in found):
                return None
            return found[0] if len(found) == 1 else tuple(found)
        return number(event.get(names[0]))

    def _add(self, plan: Plan, key: tuple[str, ...], entry: Entry) -> list[Alert]:
        group = plan.groups.get(key)
        if group is None:
            group = Group(dict(zip(plan.group_by, key, strict=True)), entry.ts)
            plan.groups[key] = group
            kind = plan.type
            if not plan.eager or kind not in (T.TEMPORAL, T.TEMPORAL_ORDERED):
                group.window = Window(TRACK.get(kind, "count"))  # what to keep running
            elif kind is T.TEMPORAL:
                group.latest = [None] * len(plan.refs)
            else:
                group.chains = OrderedChains(len(plan.refs))
            if not plan.eager:
                heapq.heappush(plan.deadlines, (entry.ts + plan.span, entry.seq, key))
        else:
            plan.groups.move_to_end(key)
            group.last_ts = max(group.last_ts, entry.ts)
        if not plan.eager:
            assert group.window is not None
            group.window.add(entry)
            return []
        return self._eager(plan, key, group, entry)

    def _eager(self, plan: Plan, key: tuple[str, ...], group: Group, entry: Entry
               ) -> list[Alert]:
        cutoff = entry.ts - plan.span
        fired: list[Entry] | None = None
        measure: float | None = None
        quiet = group.quiet_until is not None and entry.ts <= group.quiet_until
        if group.window is not None:
            group.window.evict_before(cutoff)
            group.window.add(entry)
            if not quiet:
                measure = self._measure(plan, group.window)
                if measure is not None and self._holds(plan, measure):
                    fired = list(group.window.entries)
        elif group.latest is not None:
            latest = group.latest
            for i in entry.indices:
                latest[i] = entry
            if not quiet:
                present = [e if e is not None and e.ts >= cutoff else None for e in latest]
                if plan.expression is not None:
                    names = {plan.refs[i] for i, e in enumerate(present) if e is not None}
                    ok = evaluate(plan.expression, names)
                    measure = float(len(names))
                else:
                    measure = float(sum(1 for e in present if e is not None))
                    ok = self._holds(plan, measure)
                if ok:
                    fired = by_delivery(e for e in present if e is not None)
        elif group.chains is not None:
            chains = group.chains.push(entry)
            if not quiet:
                valid = [c for c in chains if c[0].ts >= cutoff]
                if valid and self._holds(plan, float(len(valid[0]))):
                    fired = list(valid[0])
                    measure = float(len(fired))
        if fired is None:
            return []
        return self._fire(plan, key, group, fired, measure)

    def _decide(self, plan: Plan, key: tuple[str, ...], group: Group) -> list[Alert]:
        """A closed (lt/lte/eq/neq) window: fire if its whole content meets the condition."""
        assert group.window is not None
        window = group.window
        entries = list(window.entries)
        if plan.type is T.TEMPORAL:
            latest = latest_per_rule(entries, len(plan.refs))
            measure: float | None = float(sum(1 for e in latest if e is not None))
            evidence = by_delivery(e for e in latest if e is not None)
        elif plan.type is T.TEMPORAL_ORDERED:
            chain = longest_chain(entries, len(plan.refs))
            measure, evidence = float(len(chain)), list(chain)
        else:
            measure, evidence = self._measure(plan, window), entries
        if measure is None or not self._holds(plan, measure) or not evidence:
            return []
        return self._fire(plan, key, group, evidence, measure)

    def _measure(self, plan: Plan, window: Window) -> float | None:
        if plan.type is T.EVENT_COUNT:
            return float(len(window))
        return window.measure(TRACK[plan.type], plan.percentile)

    def _holds(self, plan: Plan, measure: float) -> bool:
        return plan.compare is not None and plan.compare(measure, plan.threshold)

    # -- alerts ---------------------------------------------------------------------------
    def _fire(self, plan: Plan, key: tuple[str, ...], group: Group, entries: list[Entry],
              measure: float | None) -> list[Alert]:
        entries.sort(key=lambda e: (e.ts, e.seq))
        evidence = [ev for e in entries for ev in e.evidence]
        # A chained alert counts at the time it fired, but its events may be older.
        first = min([entries[0].ts, *(ev.event.timestamp for ev in evidence)])
        last = entries[-1].ts
        if plan.eager:
            group.quiet_until = last + plan.span
        entity = entity_of(group.values)
        techniques, tactics = attack_ids(plan.tags)
        alert = Alert(
            kind=AlertKind.correlation,
            rule_id=plan.key,
            rule_title=plan.rule.title,
            severity=plan.severity,
            score=SEVERITY_SCORE.get(plan.severity, 45.0),
            entity=entity,
            first_seen=first,
            last_seen=last,
            evidence=evidence,
            attack=techniques,
            tactics=tactics,
            context={"correlation": {
                "name": plan.rule.name,
                "type": str(plan.type), "timespan": plan.rule.timespan.spec,
                "group_by": dict(group.values), "value": measure,
                "condition": f"{plan.op_text} {fmt_number(plan.threshold)}" if plan.op_text
                else str(getattr(plan.rule.condition, "expression", "")),
            }},
            explanation=explain(plan, group.values, entries, measure),
            tags=plan.tags + name_tag(plan.rule),
        )
        out = [alert] if plan.emit else []
        for parent, idx in plan.parents:
            out.extend(self._chain(parent, idx, alert, group.values, entries))
        return out

    def _chain(self, parent: Plan, idx: int, alert: Alert, values: dict[str, str],
               entries: list[Entry]) -> list[Alert]:
        """Count a child correlation's alert in the correlation that references it."""
        last_event = entries[-1].evidence[-1].event if entries[-1].evidence else None

        def lookup(name: str) -> str | None:
            if name in values:
                return values[name]
            return field_value(last_event, name) if last_event is not None else None

        resolved = [lookup(n) for n in parent.group_fields[idx]]
        if any(v is None for v in resolved):
            return []
        key = tuple(v for v in resolved if v is not None)
        value: Hashable | None = None
        if parent.value_fields is not None:
            found = [lookup(n) for n in parent.value_fields[idx]]
            if parent.type is T.VALUE_COUNT:
                value = None if any(v is None for v in found) else (
                    found[0] if len(found) == 1 else tuple(found))
            else:
                value = number(found[0])
        stage = parent.refs[idx]
        entry = self._entry(alert.last_seen, (idx,),
                            tuple(Evidence(ev.event, stage) for ev in alert.evidence), value)
        return self._add(parent, key, entry)


__all__ = ["NAME_TAG", "CorrelationDetector", "correlation_key", "field_value"]
