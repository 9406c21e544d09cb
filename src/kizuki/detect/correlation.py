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
import operator
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

from kizuki.detect.entities import entity_value, user_key
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
from kizuki.model.alert import SEVERITIES, SEVERITY_SCORE, attack_ids
from kizuki.rules import CompiledRule, RuleError

T = SigmaCorrelationType
Op = SigmaCorrelationConditionOperator
_OPS: dict[Op, tuple[Callable[[Any, Any], bool], str]] = {
    Op.GT: (operator.gt, ">"), Op.GTE: (operator.ge, "≥"), Op.LT: (operator.lt, "<"),
    Op.LTE: (operator.le, "≤"), Op.EQ: (operator.eq, "="), Op.NEQ: (operator.ne, "≠"),
}
_TRACK = {T.VALUE_COUNT: "distinct", T.VALUE_SUM: "sum", T.VALUE_AVG: "avg",
          T.VALUE_PERCENTILE: "percentile", T.VALUE_MEDIAN: "median"}
_METRIC_LABEL = {T.VALUE_SUM: "sum", T.VALUE_AVG: "average", T.VALUE_MEDIAN: "median"}
# Group-by fields that name a host or a user become the alert's "host"/"user" entity.
_HOST_SUFFIXES = ("host.name", "hostname", "Computer", "ComputerName", "WorkstationName")
_USER_SUFFIXES = ("user.name", "UserName")
_PLAIN_USER_FIELDS = frozenset({"User", "user", "Username", "AccountName", "Account"})
_ROOT = "<group>"


def _kind(field_name: str) -> str | None:
    if field_name == "host" or field_name.endswith(_HOST_SUFFIXES):
        return "host"
    if field_name in _PLAIN_USER_FIELDS or field_name.endswith(_USER_SUFFIXES):
        return "user"
    return None


def field_value(event: Event, field_name: str) -> str | None:
    """``event``'s value for a group-by or value_count field, entity-normalised."""
    value = entity_value(event, field_name)
    if value is not None and field_name in _PLAIN_USER_FIELDS:
        return user_key(value)
    return value


@dataclass(slots=True)
class _Group:
    values: dict[str, str]
    last_ts: datetime
    window: Window | None = None
    latest: list[Entry | None] | None = None
    chains: OrderedChains | None = None
    quiet_until: datetime | None = None


@dataclass(eq=False)
class _Plan:
    """One correlation compiled for matching: references resolved, fields per rule."""

    rule: SigmaCorrelationRule
    key: str
    refs: list[str]
    titles: list[str]
    group_by: list[str]
    group_fields: list[list[str]]
    value_fields: list[list[str]] | None
    span: timedelta
    eager: bool
    compare: Callable[[Any, Any], bool] | None
    op_text: str
    threshold: float
    percentile: float | None
    expression: CorrelationConditionItem | SigmaRuleReference | None
    severity: str
    tags: tuple[str, ...]
    emit: bool = True
    position: int = 0
    parents: list[tuple[_Plan, int]] = field(default_factory=list)
    groups: OrderedDict[tuple[str, ...], _Group] = field(default_factory=OrderedDict)
    deadlines: list[tuple[datetime, int, tuple[str, ...]]] = field(default_factory=list)

    @property
    def type(self) -> SigmaCorrelationType:
        return self.rule.type


def _rule_key(rule: CompiledRule) -> str:
    return rule.id or rule.name or rule.title


#: The tag that carries a correlation's ``name`` on its alerts (the ``rule_id`` is its
#: id), so that a scenario stage may name the correlation as its authors know it.
NAME_TAG = "kizuki.correlation.name="


def _name_tag(rule: SigmaCorrelationRule) -> tuple[str, ...]:
    return (NAME_TAG + rule.name,) if rule.name else ()


def correlation_key(rule: SigmaCorrelationRule) -> str:
    """The ``rule_id`` a correlation's alerts carry: its id, else its name, else title."""
    return str(rule.id) if rule.id else (rule.name or rule.title)


class CorrelationDetector:
    """Sigma correlation rules as a detector (see the module doc and docs/correlations.md).

    ``correlations`` and ``rules`` are what :func:`kizuki.rules.load_ruleset` gives
    (``RuleSet.correlations``, ``RuleSet.rules``). A correlation that cannot run
    (unknown reference, reference cycle, missing percentile, extended condition on
    temporal_ordered) is left out and reported in :attr:`errors`.
    """

    def __init__(self, correlations: Sequence[SigmaCorrelationRule],
                 rules: Sequence[CompiledRule]) -> None:
        self.errors: list[RuleError] = []
        self._seq = 0
        by_ref: dict[str, CompiledRule] = {}
        for rule in rules:
            for name in (rule.id, rule.name):
                if name:
                    by_ref.setdefault(name, rule)
        corr_pos: dict[str, int] = {}
        for pos, corr in enumerate(correlations):
            for name in (str(corr.id) if corr.id else None, corr.name):
                if name:
                    corr_pos.setdefault(name, pos)
        plans: dict[int, _Plan] = {}
        self._by_rule: dict[str, list[tuple[_Plan, tuple[int, ...]]]] = {}
        self._clock: datetime | None = None
        silent: set[str] = set()
        for pos in self._order(correlations, corr_pos):
            corr = correlations[pos]
            plan = self._compile(corr, by_ref, corr_pos, correlations)
            if plan is None:
                continue
            broken = [r for r in plan.refs if r in corr_pos and corr_pos[r] not in plans]
            if broken:
                self._error(corr, f"references correlation(s) that cannot run: "
                            f"{', '.join(broken)}", "correlation.rules")
                continue
            plan.position = len(plans)
            plans[pos] = plan
            for idx, ref in enumerate(plan.refs):
                if ref in corr_pos:
                    child = plans[corr_pos[ref]]
                    child.parents.append((plan, idx))
                    if not corr.generate:
                        child.emit = False
                    continue
                compiled = by_ref[ref]
                targets = self._by_rule.setdefault(_rule_key(compiled), [])
                if targets and targets[-1][0] is plan:  # one rule, referenced twice
                    targets[-1] = (plan, (*targets[-1][1], idx))
                else:
                    targets.append((plan, (idx,)))
                if not corr.generate:
                    silent.update(n for n in (compiled.id, compiled.name) if n)
        self._plans = sorted(plans.values(), key=lambda p: p.position)
        self._silent = frozenset(silent)

    # -- set-up -----------------------------------------------------------------------
    def _error(self, corr: SigmaCorrelationRule, message: str, key: str = "correlation"
               ) -> None:
        path = str(corr.source.path) if corr.source and corr.source.path else None
        self.errors.append(RuleError(message, path=path, key=key,
                                     rule_id=correlation_key(corr), title=corr.title))

    def _order(self, correlations: Sequence[SigmaCorrelationRule],
               corr_pos: dict[str, int]) -> list[int]:
        """Positions of the correlations, every child before the correlations using it."""
        state: dict[int, int] = {}  # 1: visiting, 2: done
        done: set[int] = set()
        order: list[int] = []

        def visit(pos: int, path: tuple[int, ...]) -> bool:
            if state.get(pos) == 2:
                return pos in done
            if state.get(pos) == 1:
                for p in path[path.index(pos):]:
                    self._error(correlations[p], "correlation references form a cycle",
                                "correlation.rules")
                return False
            state[pos] = 1
            ok = True
            for ref in _references(correlations[pos]):
                child = corr_pos.get(ref)
                if child is not None and not visit(child, (*path, pos)):
                    ok = False
            state[pos] = 2
            if ok:
                done.add(pos)
                order.append(pos)
            return ok

        for pos in range(len(correlations)):
            visit(pos, ())
        return order

    def _compile(self, corr: SigmaCorrelationRule, by_ref: dict[str, CompiledRule],
                 corr_pos: dict[str, int], correlations: Sequence[SigmaCorrelationRule]
                 ) -> _Plan | None:
        refs = _references(corr)
        missing = [r for r in refs if r not in by_ref and r not in corr_pos]
        if missing:
            self._error(corr, f"unknown rule reference(s): {', '.join(missing)}",
                        "correlation.rules")
            return None
        titles = [correlations[corr_pos[r]].title if r in corr_pos else by_ref[r].title
                  for r in refs]
        aliases = {a.alias: {ref.reference: name for ref, name in a.mapping.items()}
                   for a in corr.aliases}

        def resolve(name: str) -> list[str]:
            # An alias names a different field per referenced rule (spec "aliases").
            mapping = aliases.get(name)
            return [mapping.get(r, name) if mapping else name for r in refs]

        group_by = list(corr.group_by or [])
        per_field = [resolve(g) for g in group_by]
        group_fields = [[fields[i] for fields in per_field] for i in range(len(refs))]
        cond = corr.condition
        expression: CorrelationConditionItem | SigmaRuleReference | None = None
        value_fields: list[list[str]] | None = None
        percentile: float | None = None
        if isinstance(cond, SigmaExtendedCorrelationCondition):
            if corr.type is not T.TEMPORAL:
                self._error(corr, "extended (boolean) conditions are supported for "
                            "temporal correlations only", "correlation.condition")
                return None
            expression = cond.parsed
            compare, op_text, threshold, eager = None, "", 0.0, True
        else:
            compare, op_text = _OPS[cond.op]
            threshold = cond.count
            eager = cond.op in (Op.GT, Op.GTE)
            if cond.fieldref is not None and corr.type is not T.EVENT_COUNT and \
                    corr.type not in (T.TEMPORAL, T.TEMPORAL_ORDERED):
                names = [cond.fieldref] if isinstance(cond.fieldref, str) else cond.fieldref
                per_value = [resolve(n) for n in names]
                value_fields = [[fields[i] for fields in per_value] for i in range(len(refs))]
            if corr.type is T.VALUE_PERCENTILE:
                if cond.percentile is None:
                    self._error(corr, "value_percentile needs a 'percentile' in its "
                                "condition", "correlation.condition.percentile")
                    return None
                percentile = float(cond.percentile)
        level = str(corr.level).lower() if corr.level else "medium"
        return _Plan(
            rule=corr, key=correlation_key(corr), refs=refs, titles=titles,
            group_by=group_by, group_fields=group_fields, value_fields=value_fields,
            span=timedelta(seconds=corr.timespan.seconds), eager=eager, compare=compare,
            op_text=op_text, threshold=threshold, percentile=percentile,
            expression=expression, severity=level if level in SEVERITIES else "medium",
            tags=tuple(str(t) for t in corr.tags),
        )

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
            targets = by_rule.get(_rule_key(matches[0]), ())
        else:
            merged: dict[int, tuple[_Plan, set[int]]] = {}
            for rule in matches:
                for plan, idxs in by_rule.get(_rule_key(rule), ()):
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

    def _event_value(self, plan: _Plan, event: Event, idx: int) -> Hashable | None:
        if plan.value_fields is None:
            return None
        names = plan.value_fields[idx]
        if plan.type is T.VALUE_COUNT:
            found = [field_value(event, n) for n in names]
            if any(v is None for v in found):
                return None
            return found[0] if len(found) == 1 else tuple(found)
        return number(event.get(names[0]))

    def _add(self, plan: _Plan, key: tuple[str, ...], entry: Entry) -> list[Alert]:
        group = plan.groups.get(key)
        if group is None:
            group = _Group(dict(zip(plan.group_by, key, strict=True)), entry.ts)
            plan.groups[key] = group
            kind = plan.type
            if not plan.eager or kind not in (T.TEMPORAL, T.TEMPORAL_ORDERED):
                group.window = Window(_TRACK.get(kind, "count"))  # what to keep running
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

    def _eager(self, plan: _Plan, key: tuple[str, ...], group: _Group, entry: Entry
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
                    ok = _evaluate(plan.expression, names)
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

    def _decide(self, plan: _Plan, key: tuple[str, ...], group: _Group) -> list[Alert]:
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

    def _measure(self, plan: _Plan, window: Window) -> float | None:
        if plan.type is T.EVENT_COUNT:
            return float(len(window))
        return window.measure(_TRACK[plan.type], plan.percentile)

    def _holds(self, plan: _Plan, measure: float) -> bool:
        return plan.compare is not None and plan.compare(measure, plan.threshold)

    # -- alerts ---------------------------------------------------------------------------
    def _fire(self, plan: _Plan, key: tuple[str, ...], group: _Group, entries: list[Entry],
              measure: float | None) -> list[Alert]:
        entries.sort(key=lambda e: (e.ts, e.seq))
        evidence = [ev for e in entries for ev in e.evidence]
        # A chained alert counts at the time it fired, but its events may be older.
        first = min([entries[0].ts, *(ev.event.timestamp for ev in evidence)])
        last = entries[-1].ts
        if plan.eager:
            group.quiet_until = last + plan.span
        entity = _entity(group.values)
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
                "condition": f"{plan.op_text} {_fmt(plan.threshold)}" if plan.op_text
                else str(getattr(plan.rule.condition, "expression", "")),
            }},
            explanation=_explain(plan, group.values, entries, measure),
            tags=plan.tags + _name_tag(plan.rule),
        )
        out = [alert] if plan.emit else []
        for parent, idx in plan.parents:
            out.extend(self._chain(parent, idx, alert, group.values, entries))
        return out

    def _chain(self, parent: _Plan, idx: int, alert: Alert, values: dict[str, str],
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


def _references(corr: SigmaCorrelationRule) -> list[str]:
    if corr.rules is not None:
        refs = [r.reference for r in corr.rules]
    elif isinstance(corr.condition, SigmaExtendedCorrelationCondition):
        refs = corr.condition.get_referenced_rules()
    else:
        refs = []
    return list(dict.fromkeys(refs))


def _evaluate(node: CorrelationConditionItem | SigmaRuleReference, present: set[str]) -> bool:
    if isinstance(node, SigmaRuleReference):
        return node.reference in present
    args = [a for a in node.args]
    if isinstance(node, CorrelationConditionNOT):
        return not _evaluate(args[0], present)
    if isinstance(node, CorrelationConditionAND):
        return all(_evaluate(a, present) for a in args)
    if isinstance(node, CorrelationConditionOR):
        return any(_evaluate(a, present) for a in args)
    return False


def _entity(values: dict[str, str]) -> dict[str, str]:
    entity: dict[str, str] = {}
    for name, value in values.items():
        kind = _kind(name) or name
        entity[kind if kind not in entity else name] = value
    return entity


def _fmt(number: float | None) -> str:
    if number is None:
        return "n/a"
    return str(int(number)) if float(number).is_integer() else f"{number:.6g}"


def _explain(plan: _Plan, values: dict[str, str], entries: list[Entry],
             measure: float | None) -> str:
    """A sentence for people: what was counted, for whom, within which timespan."""
    scope = ", ".join(f"{_kind(k) or k} {v}" for k, v in values.items())
    scope = f" for {scope}" if scope else ""
    within = f" within {plan.rule.timespan.spec}"
    cond = f" (condition {plan.op_text} {_fmt(plan.threshold)})" if plan.op_text else \
        f" (condition: {getattr(plan.rule.condition, 'expression', '')})"
    kind = plan.type
    titles = " / ".join(dict.fromkeys(plan.titles[i] for e in entries for i in e.indices))
    if kind is T.EVENT_COUNT:
        return f"{_fmt(measure)} “{titles}” events{scope}{within}{cond}."
    if kind is T.VALUE_COUNT:
        field_name = plan.rule.condition.fieldref if isinstance(
            plan.rule.condition, SigmaCorrelationCondition) else ""
        return (f"{_fmt(measure)} distinct {field_name} values in {len(entries)} “{titles}” "
                f"events{scope}{within}{cond}.")
    if kind is T.TEMPORAL:
        seen = ", ".join(f"“{plan.titles[i]}”" for e in entries for i in e.indices)
        return f"{_fmt(measure)} of {len(plan.refs)} rules matched ({seen}){scope}{within}{cond}."
    if kind is T.TEMPORAL_ORDERED:
        seen = " → ".join(f"“{plan.titles[e.indices[0]]}”" for e in entries)
        return f"Rules matched in order ({seen}){scope}{within}{cond}."
    fieldref = plan.rule.condition.fieldref if isinstance(
        plan.rule.condition, SigmaCorrelationCondition) else ""
    label = _METRIC_LABEL.get(kind) or f"{_fmt(plan.percentile)}th percentile"
    return (f"The {label} of {fieldref} over {len(entries)} “{titles}” events is "
            f"{_fmt(measure)}{scope}{within}{cond}.")


__all__ = ["CorrelationDetector", "correlation_key", "field_value"]
