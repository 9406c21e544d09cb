"""Compile a Sigma detection into a columnar expression, and evaluate it on one block.

The row-wise compiler (:mod:`kizuki.rules.compile`) turns a rule into a Python predicate
over one :class:`~kizuki.model.Event`; this module walks the same pySigma tree with the
same field mapping (``Pipeline.field_names``) and builds a small expression tree over
*columns* (flattened ECS names such as ``event.code``), which
:class:`kizuki.detect.columnar_eval.BlockEval` runs with ``pyarrow.compute`` kernels on
a whole block of rows at once (issue 3 item 7).

Correctness first: every node evaluates to two boolean arrays, ``upper`` and ``lower``,
with ``lower ⊆ rows the rule's predicate accepts ⊆ upper``. Where the columnar form is
exact both are equal; where it is not (a Python regex RE2 cannot run the same way,
keywords, field references, time parts, placeholders, a non-ASCII value under
case-insensitive comparison, a float printed as text...) the node is widened
(``upper``) or narrowed (``lower``) for just those rows or that sub-expression, ``not``
swaps the two, and the scanner confirms every row of ``upper`` with the row-wise
predicate. So the matches are the row-wise matches, and the columnar work decides only
which rows are worth building an ``Event`` for.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections, SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
)

from kizuki.model import LogSource
from kizuki.rules.compile import CompiledRule
from kizuki.rules.modifiers import (
    ValueError_,
    WildcardSet,
    expand_placeholders,
    wildcard_regex,
)
from kizuki.rules.pipeline import Binding, Pipeline

#: A boolean Arrow array without nulls, one value per row of a block.
Mask = Any

# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class Opaque:
    """A part the columnar form cannot decide: every row may match, none surely does."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test of one field (the first present of ``names``), exact on the rows it can read.

    ``op``: ``str`` (arg: a :class:`StrSet`), ``num`` (numbers), ``bool``, ``null``,
    ``exists`` (wanted bool), ``re`` (RE2 source), ``cidr`` (first and last IPv4
    address as integers), ``cmp`` ((operator, number)).
    """

    op: str
    names: tuple[str, ...]
    arg: Any = None


@dataclass(frozen=True, slots=True)
class And:
    """All children."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any child."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The negation of a child (``upper`` and ``lower`` swap)."""

    child: Node


Node = Opaque | Leaf | And | Or | Not
OPAQUE = Opaque()


@dataclass(frozen=True, slots=True)
class StrSet:
    """An OR of Sigma strings: exact values, affixes, substrings and RE2 wildcard patterns.

    ``lowered``: compare the lowered value with lowered literals (plain Sigma strings);
    otherwise compare as written (``cased``).
    """

    lowered: bool
    exact: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    contains: tuple[str, ...]
    pattern: str | None
    anything: bool


def is_opaque(node: Node) -> bool:
    """Whether a node has any opaque part (its rule is then confirmed row by row anyway)."""
    if isinstance(node, Opaque):
        return True
    if isinstance(node, And | Or):
        return any(is_opaque(c) for c in node.children)
    if isinstance(node, Not):
        return is_opaque(node.child)
    return False


# --------------------------------------------------------------------------- strings


def re2_literal(text: str) -> str:
    """``text`` as an RE2 literal: ASCII punctuation and controls as ``\\x{..}``."""
    out = []
    for ch in text:
        if ch.isascii() and not ch.isalnum():
            out.append(f"\\x{{{ord(ch):02x}}}")
        else:
            out.append(ch)
    return "".join(out)


class _Strings(WildcardSet):
    """The strings of one detection item, as the row-wise compiler sorts them, with the
    patterns written for RE2."""

    def pattern(self, s: SigmaString) -> str:
        return wildcard_regex(s, self.lower, re2_literal)

    def freeze(self) -> StrSet:
        pattern = None
        if self.patterns:
            # Python's fullmatch with DOTALL: anchored at both ends, `.` takes newlines.
            pattern = "(?s)^(?:" + "|".join(f"(?:{p})" for p in self.patterns) + ")$"
        return StrSet(self.lower, frozenset(self.exact), tuple(self.prefixes),
                      tuple(self.suffixes), tuple(self.contains), pattern, self.anything)


# --------------------------------------------------------------------------- regex, cidr

_RE2_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
#: Syntax Python and RE2 both accept but read differently (POSIX classes, ``{,n}``).
_RE2_AMBIGUOUS = ("[:", "[=", "[.", "{,")
#: Python-only syntax (lookaround, backreferences, atomic and possessive forms, ``\Z``),
#: refused before RE2 sees it (RE2 would log its parse error).
_PY_ONLY = re.compile(r"\(\?(?:<[=!]|[=!>#]|P=)|\\[1-9Z]|[*+?}][+]")


def re2_pattern(v: SigmaRegularExpression) -> str | None:
    """The RE2 source of a Sigma ``re`` value, or None when RE2 may not agree with ``re``.

    Only ASCII patterns are taken; on rows of printable ASCII (the scan checks) RE2 and
    Python's ``re`` then agree on what a pattern both compile means.
    """
    src = str(v.regexp)
    if not src.isascii() or any(a in src for a in _RE2_AMBIGUOUS) or _PY_ONLY.search(src):
        return None
    flags = "".join(sorted(_RE2_FLAGS[f] for f in v.flags if f in _RE2_FLAGS))
    pattern = f"(?{flags}){src}" if flags else src
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pattern


def ipv4_range(net: ipaddress.IPv4Network) -> tuple[int, int]:
    """The first and last address of a network, as integers."""
    return int(net.network_address), int(net.broadcast_address)


# --------------------------------------------------------------------------- compiler


class _Group:
    """The values of one detection item, as kizuki.rules.modifiers.ValueGroup sorts them."""

    def __init__(self) -> None:
        self.strings = _Strings(lower=True)
        self.cased = _Strings(lower=False)
        self.numbers: set[int | float] = set()
        self.bools: set[bool] = set()
        self.null = False
        self.leaves: list[tuple[str, Any]] = []

    def add(self, v: SigmaType) -> None:
        if isinstance(v, SigmaCasedString):
            self.cased.add(v)
        elif isinstance(v, SigmaString):
            self.strings.add(v)
        elif isinstance(v, SigmaTimestampPart):
            self.leaves.append(("opaque", None))
        elif isinstance(v, SigmaNumber):
            self.numbers.add(v.number)
        elif isinstance(v, SigmaBool):
            self.bools.add(v.boolean)
        elif isinstance(v, SigmaNull):
            self.null = True
        elif isinstance(v, SigmaExists):
            self.leaves.append(("exists", bool(v.exists)))
        elif isinstance(v, SigmaRegularExpression):
            pattern = re2_pattern(v)
            self.leaves.append(("re", pattern) if pattern else ("opaque", None))
        elif isinstance(v, SigmaCIDRExpression):
            net = v.network
            if isinstance(net, ipaddress.IPv4Network):
                self.leaves.append(("cidr", ipv4_range(net)))
            else:
                self.leaves.append(("opaque", None))
        elif isinstance(v, SigmaCompareExpression):
            op = {CompareOperators.LT: "less", CompareOperators.LTE: "less_equal",
                  CompareOperators.GT: "greater", CompareOperators.GTE: "greater_equal"}
            name = op.get(v.op) if hasattr(v, "op") else None
            self.leaves.append(("cmp", (name, v.number.number)) if name else ("opaque", None))
        elif isinstance(v, SigmaExpansion):
            for inner in v.values:
                self.add(inner)
        else:  # field references and anything newer: the row-wise predicate decides
            self.leaves.append(("opaque", None))

    def node(self, names: tuple[str, ...]) -> Node:
        out: list[Node] = []
        for s in (self.strings, self.cased):
            if not s.empty():
                out.append(Leaf("str", names, s.freeze()))
        if self.numbers:
            out.append(Leaf("num", names, frozenset(self.numbers)))
        if self.bools:
            out.append(Leaf("bool", names, frozenset(self.bools)))
        if self.null:
            out.append(Leaf("null", names))
        for op, arg in self.leaves:
            out.append(OPAQUE if op == "opaque" else Leaf(op, names, arg))
        if not out:
            return OPAQUE
        return out[0] if len(out) == 1 else Or(tuple(out))


@dataclass
class _Ctx:
    pipeline: Pipeline
    logsource: LogSource
    binding: Binding | None

    def names(self, field: str) -> tuple[str, ...]:
        return self.pipeline.field_names(field, self.logsource, self.binding)


def _item_node(item: SigmaDetectionItem, ctx: _Ctx) -> Node:
    try:
        values = expand_placeholders(item.value, {})
    except ValueError_:
        return OPAQUE  # the placeholders' values are in the row-wise compiler's config
    if item.field is None:
        return OPAQUE  # keywords search every value of the event
    names = ctx.names(item.field)
    node: Node
    if not values:
        node = Leaf("null", names)
    elif item.value_linking is ConditionAND and len(values) > 1:
        parts = []
        for v in values:
            g = _Group()
            g.add(v)
            parts.append(g.node(names))
        node = And(tuple(parts))
    else:
        g = _Group()
        for v in values:
            g.add(v)
        node = g.node(names)
    return Not(node) if item.negated else node


def _detection_node(det: SigmaDetection, ctx: _Ctx) -> Node:
    parts: list[Node] = []
    for item in det.detection_items:
        if isinstance(item, SigmaDetection):
            parts.append(_detection_node(item, ctx))
        else:
            try:
                parts.append(_item_node(item, ctx))
            except (ValueError_, SigmaError, ValueError, TypeError):
                parts.append(OPAQUE)
    if not parts:
        return OPAQUE
    if len(parts) == 1:
        return parts[0]
    return And(tuple(parts)) if det.item_linking is ConditionAND else Or(tuple(parts))


def _condition_node(node: Any, dets: SigmaDetections, ctx: _Ctx) -> Node:
    if isinstance(node, ConditionIdentifier):
        det = dets.detections.get(node.identifier)
        return OPAQUE if det is None else _detection_node(det, ctx)
    if isinstance(node, ConditionSelector):
        ids = node.resolve_referenced_detections(dets)
        parts = tuple(_condition_node(i, dets, ctx) for i in ids)
        if not parts:
            return OPAQUE
        return And(parts) if node.cond_class is ConditionAND else Or(parts)
    if isinstance(node, ConditionNOT):
        return Not(_condition_node(node.args[0], dets, ctx))
    if isinstance(node, ConditionAND | ConditionOR):
        parts = tuple(_condition_node(a, dets, ctx) for a in node.args if a is not None)
        return And(parts) if isinstance(node, ConditionAND) else Or(parts)
    return OPAQUE


def compile_node(rule: SigmaRule, pipeline: Pipeline, logsource: LogSource,
                 binding: Binding | None = None) -> Node:
    """The detection of ``rule`` as a columnar expression with fields named for ``binding``."""
    ctx = _Ctx(pipeline, logsource, binding)
    try:
        conds = [c.parse(postprocess=False) for c in rule.detection.parsed_condition]
        parts = tuple(_condition_node(c, rule.detection, ctx) for c in conds)
    except (SigmaError, ValueError_, ValueError, TypeError, KeyError):
        return OPAQUE
    if not parts:
        return OPAQUE
    return parts[0] if len(parts) == 1 else Or(parts)


def compile_rule_nodes(rule: CompiledRule) -> dict[str | None, Node]:
    """One expression per variant of a compiled rule (None: the default predicate)."""
    if rule.sigma is None or rule.pipeline is None:
        return {None: OPAQUE, **{k: OPAQUE for k in rule.variants}}
    out: dict[str | None, Node] = {
        None: compile_node(rule.sigma, rule.pipeline, rule.logsource, None)
    }
    for key in rule.variants:
        binding = next((b for b in rule.pipeline.bindings(rule.logsource.category)
                        if b.key == key), None)
        out[key] = (compile_node(rule.sigma, rule.pipeline, rule.logsource, binding)
                    if binding is not None else OPAQUE)
    return out


def field_names(nodes: Sequence[Node]) -> set[str]:
    """Every field name the expressions read."""
    out: set[str] = set()

    def walk(n: Node) -> None:
        if isinstance(n, Leaf):
            out.update(n.names)
        elif isinstance(n, And | Or):
            for c in n.children:
                walk(c)
        elif isinstance(n, Not):
            walk(n.child)

    for n in nodes:
        walk(n)
    return out
