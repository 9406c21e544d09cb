"""Compile a parsed Sigma rule into a fast predicate over Kizuki events (style §6).

pySigma parses the rule (detections, modifiers applied to values, condition grammar);
this module walks that tree once and returns nested closures. The hot path then does
no parsing and no tree walking: a predicate fetches each field once per detection item
and compares it with values prepared here (lowered literals, tuple affixes, compiled
regexes). The unprocessed condition tree is used (``SigmaCondition.parse(False)``) so
that the values of one detection item stay together instead of being split into one
condition per value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.exceptions import SigmaError
from sigma.modifiers import reverse_modifier_mapping
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections, SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaFieldReference,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from kizuki.model import Event, LogSource
from kizuki.rules.keywords import keyword_list
from kizuki.rules.memo import Getter, lower_getter
from kizuki.rules.modifiers import (
    Predicate,
    ValueError_,
    ValueGroup,
    expand_placeholders,
    fieldref_test,
    keyword_test,
)
from kizuki.rules.pins import pin_channel, pin_event_id, pinned
from kizuki.rules.pipeline import Binding, Pipeline
from kizuki.rules.prefilter import Atoms, rule_atoms

KeyPath = tuple[str | int, ...]


class CompileError(Exception):
    """A rule part that cannot be compiled; ``path`` is its YAML key path."""

    def __init__(self, message: str, path: KeyPath) -> None:
        self.path = path
        super().__init__(message)


@dataclass(eq=False)
class CompiledRule:
    """A Sigma rule ready to run: its metadata, logsource and compiled predicate(s).

    ``event_ids`` / ``channels`` are the values the detection pins (every match must
    have one of them), used by the index to skip the rule for other event types.
    ``variants`` holds the predicate compiled for a Windows event type that names
    fields differently (``process_creation`` on Security 4688), by ``Binding.key``.
    """

    id: str | None
    name: str | None
    title: str
    level: str | None
    status: str | None
    tags: tuple[str, ...]
    logsource: LogSource
    path: str | None
    predicate: Predicate
    event_ids: frozenset[int] | None = None
    channels: frozenset[str] | None = None
    variants: dict[str, Predicate] = field(default_factory=dict)
    #: Literal atoms per variant (None: the default one), for the index's prefilter.
    atoms: dict[str | None, Atoms | None] = field(default_factory=dict, repr=False)
    sigma: SigmaRule | None = field(default=None, repr=False)
    pipeline: Pipeline | None = field(default=None, repr=False)

    def variant_for(
        self,
        product: str | None,
        service: str | None,
        category: str | None,
        event_id: int | None,
    ) -> tuple[Predicate, str | None] | None:
        """(predicate, variant key) for events of this logsource and event id, or None."""
        ls = self.logsource
        if ls.product is not None and ls.product != product:
            return None
        if ls.service is not None and ls.service != service:
            return None
        key: str | None = None
        if ls.category is not None:
            binding = None
            if product == "windows" and self.pipeline is not None:
                binding = self.pipeline.binding_for(ls.category, service, event_id)
            if binding is not None:
                if binding.key in self.variants:
                    key = binding.key
            elif ls.category != category:
                return None
        if self.event_ids is not None and event_id is not None and event_id not in self.event_ids:
            return None
        return (self.predicate if key is None else self.variants[key]), key

    def predicate_for(
        self,
        product: str | None,
        service: str | None,
        category: str | None,
        event_id: int | None,
    ) -> Predicate | None:
        """The predicate to run on events of this logsource and event id, or None."""
        found = self.variant_for(product, service, category, event_id)
        return found[0] if found is not None else None

    def matches(self, event: Event) -> bool:
        """Whether ``event`` is of this rule's logsource and satisfies its detection."""
        ls = event.logsource
        pred = self.predicate_for(
            _low(ls.product), _low(ls.service), _low(ls.category), event_id_of(event)
        )
        return pred is not None and pred(event)


def _low(s: str | None) -> str | None:
    return s.lower() if s else None


def event_id_of(event: Event) -> int | None:
    """The Windows event id of an event (None for other sources).

    The record's ``EventID``; for a Windows event without one (ECS JSON from another
    collector) ``event.code``, which ECS defines as the Windows event id.
    """
    v = event.original.get("EventID")
    if v is None:
        if event.logsource.product != "windows":
            return None
        v = event.fields.get("event.code")
        if v is None:
            return None
    if type(v) is int:
        return v
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- combinators


def all_of(preds: Sequence[Predicate]) -> Predicate:
    """AND of predicates, unrolled for the short cases."""
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) and b(e)
    if len(preds) == 3:
        a, b, c = preds
        return lambda e: a(e) and b(e) and c(e)
    ps = tuple(preds)
    return lambda e: all(p(e) for p in ps)


def any_of(preds: Sequence[Predicate]) -> Predicate:
    """OR of predicates, unrolled for the short cases."""
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) or b(e)
    if len(preds) == 3:
        a, b, c = preds
        return lambda e: a(e) or b(e) or c(e)
    ps = tuple(preds)
    return lambda e: any(p(e) for p in ps)


def not_(pred: Predicate) -> Predicate:
    """Negation of a predicate."""
    return lambda e: not pred(e)


def make_getter(names: Sequence[str]) -> Getter:
    """Fetch the first present field of ``names`` from an event.

    Dotted names are ECS names (``Event.fields`` first, as ``Event.get``); bare names
    are the record's own (``Event.original`` first), which saves a dict miss per lookup
    for the Windows names Sigma rules use.
    """
    if len(names) == 1:
        n = names[0]
        if n == "@timestamp":
            return lambda e: e.timestamp
        if "." in n:

            def get_ecs(e: Event) -> Any:
                v = e.fields.get(n)
                return e.original.get(n) if v is None else v

            return get_ecs

        def get_original(e: Event) -> Any:
            v = e.original.get(n)
            return e.fields.get(n) if v is None else v

        return get_original
    getters = tuple(make_getter((n,)) for n in names)

    def get_first(e: Event) -> Any:
        for g in getters:
            v = g(e)
            if v is not None:
                return v
        return None

    return get_first


# --------------------------------------------------------------------------- compiler


@dataclass
class _Context:
    pipeline: Pipeline
    logsource: LogSource
    binding: Binding | None
    placeholders: Mapping[str, Sequence[str]]
    getters: dict[str, Getter] = field(default_factory=dict)
    lowers: dict[str, Getter] = field(default_factory=dict)

    def names(self, name: str) -> tuple[str, ...]:
        return self.pipeline.field_names(name, self.logsource, self.binding)

    def getter(self, name: str) -> Getter:
        g = self.getters.get(name)
        if g is None:
            g = self.getters[name] = make_getter(self.names(name))
        return g

    def lower_getter(self, name: str) -> Getter:
        """The lowered value of a field, shared per event by all rules (``EventMemo``)."""
        g = self.lowers.get(name)
        if g is None:
            g = self.lowers[name] = lower_getter(self.names(name), self.getter(name))
        return g


def item_key(item: SigmaDetectionItem) -> str:
    """The YAML key a detection item came from (``CommandLine|contains|all``)."""
    mods = [reverse_modifier_mapping.get(m.__name__, m.__name__) for m in item.modifiers]
    return "|".join([item.field or "", *mods]) if mods or item.field else ""


def _is_contains_literal(v: SigmaType) -> str | None:
    if isinstance(v, SigmaString) and not isinstance(v, SigmaCasedString):
        p = v.s
        multi = SpecialChars.WILDCARD_MULTI
        if len(p) == 3 and p[0] is multi and p[2] is multi and isinstance(p[1], str):
            return p[1].lower()
    return None


def _or_values(values: Sequence[SigmaType], name: str, ctx: _Context) -> Predicate:
    get = ctx.getter(name)
    group = ValueGroup()
    preds: list[Predicate] = []
    for v in values:
        if not group.add(v):
            if isinstance(v, SigmaFieldReference):
                preds.append(fieldref_test(v, get, ctx.getter(v.field)))
            else:
                raise ValueError_(f"unsupported value {v!r}")
    strings = group.take_strings()
    if strings is not None:
        st = strings.build_lowered()
        lget = ctx.lower_getter(name)

        def string_pred(e: Event) -> bool:
            return st(lget(e))

        preds.append(string_pred)
    vt = group.build()
    if vt is not None:

        def value_pred(e: Event) -> bool:
            return vt(get(e))

        preds.insert(0, value_pred)
    if not preds:
        raise ValueError_("detection item has no usable value")
    return any_of(preds)


def _keyword_literal(v: SigmaType) -> str | None:
    """The lowered text of a case-insensitive keyword without inner wildcards, else None."""
    if not isinstance(v, SigmaString) or isinstance(v, SigmaCasedString):
        return None
    parts = list(v.s)
    while parts and parts[0] is SpecialChars.WILDCARD_MULTI:
        parts.pop(0)
    while parts and parts[-1] is SpecialChars.WILDCARD_MULTI:
        parts.pop()
    if not parts or not all(isinstance(p, str) for p in parts):
        return None
    return "".join(p for p in parts if isinstance(p, str)).lower()


def _compile_item(item: SigmaDetectionItem, ctx: _Context) -> Predicate:
    values = expand_placeholders(item.value, ctx.placeholders)
    all_linked = item.value_linking is ConditionAND
    pred: Predicate
    if item.field is None:
        literals = [_keyword_literal(v) for v in values]
        if not all_linked and len(values) > 1 and all(x is not None for x in literals):
            # A keyword list of plain words (SigmaHQ's "Mimikatz Use" has 20): one
            # automaton for all the words, answers remembered per value.
            pred = keyword_list([x for x in literals if x is not None])
        else:
            preds = [keyword_test(v) for v in values]
            pred = all_of(preds) if all_linked else any_of(preds)
    else:
        name = item.field
        if not values:  # `field: null` written as an empty list
            get = ctx.getter(name)
            pred = lambda e: get(e) is None  # noqa: E731
        elif all_linked and len(values) > 1:
            lits = [_is_contains_literal(v) for v in values]
            if all(x is not None for x in lits):
                pred = _contains_all(
                    ctx.lower_getter(name), tuple(x for x in lits if x is not None)
                )
            else:
                pred = all_of([_or_values([v], name, ctx) for v in values])
        else:
            pred = _or_values(values, name, ctx)
    return not_(pred) if item.negated else pred


def _contains_all(lget: Getter, lits: tuple[str, ...]) -> Predicate:
    """``field|contains|all``: one lookup of the lowered value for every literal."""

    def one(s: str | None) -> bool:
        if s is None:
            return False
        for lit in lits:  # noqa: SIM110 - a plain loop beats all() on the hot path
            if lit not in s:
                return False
        return True

    def pred(e: Event) -> bool:
        v = lget(e)
        if type(v) is tuple:
            return any(one(x) for x in v)
        return one(v)

    return pred


def _compile_detection(det: SigmaDetection, ctx: _Context, path: KeyPath) -> Predicate:
    preds: list[Predicate] = []
    for i, item in enumerate(det.detection_items):
        if isinstance(item, SigmaDetection):
            preds.append(_compile_detection(item, ctx, (*path, i)))
            continue
        try:
            preds.append(_compile_item(item, ctx))
        except (ValueError_, SigmaError, ValueError, TypeError) as exc:
            raise CompileError(str(exc), (*path, item_key(item))) from exc
    return all_of(preds) if det.item_linking is ConditionAND else any_of(preds)


def _compile_condition(
    node: Any, dets: SigmaDetections, ctx: _Context, memo: dict[str, Predicate]
) -> Predicate:
    if isinstance(node, ConditionIdentifier):
        name = node.identifier
        pred = memo.get(name)
        if pred is None:
            if name not in dets.detections:
                raise CompileError(
                    f"condition names '{name}', which is not a detection",
                    ("detection", "condition"),
                )
            pred = _compile_detection(dets.detections[name], ctx, ("detection", name))
            memo[name] = pred
        return pred
    if isinstance(node, ConditionSelector):
        ids = node.resolve_referenced_detections(dets)
        if not ids:
            raise CompileError(
                f"'{node.args[0]} of {node.pattern}' matches no detection",
                ("detection", "condition"),
            )
        preds = [_compile_condition(i, dets, ctx, memo) for i in ids]
        return all_of(preds) if node.cond_class is ConditionAND else any_of(preds)
    if isinstance(node, ConditionNOT):
        return not_(_compile_condition(node.args[0], dets, ctx, memo))
    if isinstance(node, ConditionAND | ConditionOR):
        preds = [_compile_condition(a, dets, ctx, memo) for a in node.args if a is not None]
        return all_of(preds) if isinstance(node, ConditionAND) else any_of(preds)
    raise CompileError(f"unsupported condition element {type(node).__name__}", ("detection",))


def parsed_conditions(rule: SigmaRule) -> list[ConditionItem]:
    """The rule's conditions parsed without post-processing (one item per detection value list)."""
    out = []
    for cond in rule.detection.parsed_condition:
        try:
            out.append(cond.parse(postprocess=False))
        except SigmaError as exc:
            raise CompileError(str(exc), ("detection", "condition")) from exc
    return out  # type: ignore[return-value]


def compile_predicate(
    rule: SigmaRule,
    pipeline: Pipeline,
    logsource: LogSource,
    binding: Binding | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> Predicate:
    """The detection of ``rule`` as one predicate, with fields named for ``binding``."""
    ctx = _Context(pipeline, logsource, binding, placeholders or {})
    memo: dict[str, Predicate] = {}
    preds = [
        _compile_condition(c, rule.detection, ctx, memo) for c in parsed_conditions(rule)
    ]
    # Several condition strings (old Sigma) mean any of them.
    return any_of(preds)


def detection_predicates(
    rule: SigmaRule,
    pipeline: Pipeline,
    logsource: LogSource,
    binding: Binding | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Predicate]:
    """Each named detection of ``rule`` on its own, to explain why a rule did not match."""
    ctx = _Context(pipeline, logsource, binding, placeholders or {})
    return {
        name: _compile_detection(det, ctx, ("detection", name))
        for name, det in rule.detection.detections.items()
    }


# --------------------------------------------------------------------------- rules


def _ls(rule: SigmaRule) -> LogSource:
    src = rule.logsource
    return LogSource(
        product=_low(src.product),
        service=_low(src.service),
        category=_low(src.category),
    )


def _atoms(
    rule: SigmaRule,
    conds: Sequence[Any],
    pipeline: Pipeline,
    ls: LogSource,
    binding: Binding | None,
) -> Atoms | None:
    # Values with placeholders yield no atom (their expansion is not in the tree).
    return rule_atoms(rule, conds, lambda name: pipeline.field_names(name, ls, binding))


def compile_rule(
    rule: SigmaRule,
    pipeline: Pipeline,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    path: str | None = None,
) -> CompiledRule:
    """Compile one parsed Sigma rule; raises ``CompileError`` with the key at fault."""
    ls = _ls(rule)
    predicate = compile_predicate(rule, pipeline, ls, None, placeholders)
    conds = parsed_conditions(rule)
    variants: dict[str, Predicate] = {}
    atoms: dict[str | None, Atoms | None] = {
        None: _atoms(rule, conds, pipeline, ls, None)
    }
    if ls.product == "windows":
        for b in pipeline.bindings(ls.category):
            if b.fields:
                variants[b.key] = compile_predicate(rule, pipeline, ls, b, placeholders)
                atoms[b.key] = _atoms(rule, conds, pipeline, ls, b)
    return CompiledRule(
        id=str(rule.id) if rule.id else None,
        name=rule.name,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        status=rule.status.name.lower() if rule.status else None,
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        logsource=ls,
        path=path,
        predicate=predicate,
        event_ids=pinned(rule, conds, pin_event_id),
        channels=pinned(rule, conds, pin_channel),
        variants=variants,
        atoms=atoms,
        sigma=rule,
        pipeline=pipeline,
    )
