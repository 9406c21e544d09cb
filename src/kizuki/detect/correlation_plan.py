"""Sigma correlation rules compiled for :class:`~kizuki.detect.correlation.CorrelationDetector`.

What a correlation becomes before any event is seen (issue 3 item 2): its references
resolved to rules or to other correlations (children ordered before the correlations
that use them, cycles reported), aliases resolved per referenced rule, the condition
turned into a comparison or a boolean expression over references, and the sentence its
alerts explain themselves with.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Sequence
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
from kizuki.detect.windows import Entry, OrderedChains, Window
from kizuki.model import Event
from kizuki.model.alert import SEVERITIES
from kizuki.rules import CompiledRule, RuleError

T = SigmaCorrelationType
Op = SigmaCorrelationConditionOperator
_OPS: dict[Op, tuple[Callable[[Any, Any], bool], str]] = {
    Op.GT: (operator.gt, ">"), Op.GTE: (operator.ge, "≥"), Op.LT: (operator.lt, "<"),
    Op.LTE: (operator.le, "≤"), Op.EQ: (operator.eq, "="), Op.NEQ: (operator.ne, "≠"),
}
TRACK = {T.VALUE_COUNT: "distinct", T.VALUE_SUM: "sum", T.VALUE_AVG: "avg",
          T.VALUE_PERCENTILE: "percentile", T.VALUE_MEDIAN: "median"}
_METRIC_LABEL = {T.VALUE_SUM: "sum", T.VALUE_AVG: "average", T.VALUE_MEDIAN: "median"}
# Group-by fields that name a host or a user become the alert's "host"/"user" entity.
_HOST_SUFFIXES = ("host.name", "hostname", "Computer", "ComputerName", "WorkstationName")
_USER_SUFFIXES = ("user.name", "UserName")
_PLAIN_USER_FIELDS = frozenset({"User", "user", "Username", "AccountName", "Account"})
ROOT = "<group>"


def group_kind(field_name: str) -> str | None:
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
class Group:
    values: dict[str, str]
    last_ts: datetime
    window: Window | None = None
    latest: list[Entry | None] | None = None
    chains: OrderedChains | None = None
    quiet_until: datetime | None = None


@dataclass(eq=False)
class Plan:
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
    parents: list[tuple[Plan, int]] = field(default_factory=list)
    groups: OrderedDict[tuple[str, ...], Group] = field(default_factory=OrderedDict)
    deadlines: list[tuple[datetime, int, tuple[str, ...]]] = field(default_factory=list)

    @property
    def type(self) -> SigmaCorrelationType:
        return self.rule.type


def rule_key(rule: CompiledRule) -> str:
    return rule.id or rule.name or rule.title


#: The tag that carries a correlation's ``name`` on its alerts (the ``rule_id`` is its
#: id), so that a scenario stage may name the correlation as its authors know it.
NAME_TAG = "kizuki.correlation.name="


def name_tag(rule: SigmaCorrelationRule) -> tuple[str, ...]:
    return (NAME_TAG + rule.name,) if rule.name else ()


def correlation_key(rule: SigmaCorrelationRule) -> str:
    """The ``rule_id`` a correlation's alerts carry: its id, else its name, else title."""
    return str(rule.id) if rule.id else (rule.name or rule.title)


@dataclass
class CompiledPlans:
    """Correlations compiled for the detector: plans (children first), the plans each
    rule feeds, the rules that raise no alert of their own, and the errors."""

    plans: list[Plan]
    by_rule: dict[str, list[tuple[Plan, tuple[int, ...]]]]
    silent: frozenset[str]
    errors: list[RuleError]


def compile_plans(correlations: Sequence[SigmaCorrelationRule],
                  rules: Sequence[CompiledRule]) -> CompiledPlans:
    """Resolve references and aliases, order chained correlations, report what cannot run."""
    b = _Builder(correlations, rules)
    return CompiledPlans(b.plans, b.by_rule, b.silent, b.errors)


class _Builder:
    def __init__(self, correlations: Sequence[SigmaCorrelationRule],
                 rules: Sequence[CompiledRule]) -> None:
        self.errors: list[RuleError] = []
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
        plans: dict[int, Plan] = {}
        self.by_rule: dict[str, list[tuple[Plan, tuple[int, ...]]]] = {}
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
                targets = self.by_rule.setdefault(rule_key(compiled), [])
                if targets and targets[-1][0] is plan:  # one rule, referenced twice
                    targets[-1] = (plan, (*targets[-1][1], idx))
                else:
                    targets.append((plan, (idx,)))
                if not corr.generate:
                    silent.update(n for n in (compiled.id, compiled.name) if n)
        self.plans = sorted(plans.values(), key=lambda p: p.position)
        self.silent = frozenset(silent)

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
            for ref in references(correlations[pos]):
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
                 ) -> Plan | None:
        refs = references(corr)
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
        return Plan(
            rule=corr, key=correlation_key(corr), refs=refs, titles=titles,
            group_by=group_by, group_fields=group_fields, value_fields=value_fields,
            span=timedelta(seconds=corr.timespan.seconds), eager=eager, compare=compare,
            op_text=op_text, threshold=threshold, percentile=percentile,
            expression=expression, severity=level if level in SEVERITIES else "medium",
            tags=tuple(str(t) for t in corr.tags),
        )


def references(corr: SigmaCorrelationRule) -> list[str]:
    if corr.rules is not None:
        refs = [r.reference for r in corr.rules]
    elif isinstance(corr.condition, SigmaExtendedCorrelationCondition):
        refs = corr.condition.get_referenced_rules()
    else:
        refs = []
    return list(dict.fromkeys(refs))


def evaluate(node: CorrelationConditionItem | SigmaRuleReference, present: set[str]) -> bool:
    if isinstance(node, SigmaRuleReference):
        return node.reference in present
    args = [a for a in node.args]
    if isinstance(node, CorrelationConditionNOT):
        return not evaluate(args[0], present)
    if isinstance(node, CorrelationConditionAND):
        return all(evaluate(a, present) for a in args)
    if isinstance(node, CorrelationConditionOR):
        return any(evaluate(a, present) for a in args)
    return False


def entity_of(values: dict[str, str]) -> dict[str, str]:
    entity: dict[str, str] = {}
    for name, value in values.items():
        kind = group_kind(name) or name
        entity[kind if kind not in entity else name] = value
    return entity


def fmt_number(number: float | None) -> str:
    if number is None:
        return "n/a"
    return str(int(number)) if float(number).is_integer() else f"{number:.6g}"


def explain(plan: Plan, values: dict[str, str], entries: list[Entry],
             measure: float | None) -> str:
    """A sentence for people: what was counted, for whom, within which timespan."""
    scope = ", ".join(f"{group_kind(k) or k} {v}" for k, v in values.items())
    scope = f" for {scope}" if scope else ""
    within = f" within {plan.rule.timespan.spec}"
    cond = f" (condition {plan.op_text} {fmt_number(plan.threshold)})" if plan.op_text else \
        f" (condition: {getattr(plan.rule.condition, 'expression', '')})"
    kind = plan.type
    titles = " / ".join(dict.fromkeys(plan.titles[i] for e in entries for i in e.indices))
    if kind is T.EVENT_COUNT:
        return f"{fmt_number(measure)} “{titles}” events{scope}{within}{cond}."
    if kind is T.VALUE_COUNT:
        field_name = plan.rule.condition.fieldref if isinstance(
            plan.rule.condition, SigmaCorrelationCondition) else ""
        return (f"{fmt_number(measure)} distinct {field_name} values in {len(entries)} “{titles}” "
                f"events{scope}{within}{cond}.")
    if kind is T.TEMPORAL:
        seen = ", ".join(f"“{plan.titles[i]}”" for e in entries for i in e.indices)
        return (f"{fmt_number(measure)} of {len(plan.refs)} rules matched ({seen})"
                f"{scope}{within}{cond}.")
    if kind is T.TEMPORAL_ORDERED:
        seen = " → ".join(f"“{plan.titles[e.indices[0]]}”" for e in entries)
        return f"Rules matched in order ({seen}){scope}{within}{cond}."
    fieldref = plan.rule.condition.fieldref if isinstance(
        plan.rule.condition, SigmaCorrelationCondition) else ""
    label = _METRIC_LABEL.get(kind) or f"{fmt_number(plan.percentile)}th percentile"
    return (f"The {label} of {fieldref} over {len(entries)} “{titles}” events is "
            f"{fmt_number(measure)}{scope}{within}{cond}.")
