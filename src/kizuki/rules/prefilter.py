"""Literal prefilter: pick, per event, the few rules whose literals can occur in it.

A process-creation event meets some 1,400 SigmaHQ rules; nearly all of them require a
literal somewhere (``Image|endswith: '\\whoami.exe'``, ``OriginalFileName: ...``,
``CommandLine|contains: ...``). For each rule this module derives a *necessary* set of
atoms — at least one must hold for the rule to match — from the positive part of its
condition. The index then looks each event's field values up once (exact values in a
dict, executable names by their last path component, substrings through one
Aho–Corasick automaton per field) and
runs only the rules with a possible atom, plus the rules without atoms. The prefilter
only narrows: every selected rule still runs its exact predicate, so results are the
same with or without it (issue 3 item 7: literal values indexed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaExpansion,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from kizuki.model import Event
from kizuki.rules.memo import Getter, lower_getter

#: An atom: (event field names, kind, lowered literal). Kinds: "eq" whole value,
#: "base" the value ends with this last path component ("\\whoami.exe"), "sub" the
#: literal occurs in the value.
Atom = tuple[tuple[str, ...], str, str]
Atoms = frozenset[Atom]
NamesFn = Callable[[str], tuple[str, ...]]



def _string_atom(names: tuple[str, ...], s: SigmaString) -> Atom | None:
    parts = s.s
    if any(not isinstance(p, str | SpecialChars) for p in parts):
        return None
    multi = SpecialChars.WILDCARD_MULTI
    if all(isinstance(p, str) for p in parts):
        return (names, "eq", "".join(p for p in parts if isinstance(p, str)).lower())
    if len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
        lit = parts[1].lower()
        cut = lit.rfind("\\")
        if cut >= 0:
            return (names, "base", lit[cut:])
        return (names, "sub", lit)
    # Any other wildcard shape: its longest literal piece must occur in the value.
    pieces = [p for p in parts if isinstance(p, str)]
    if not pieces:
        return None
    return (names, "sub", max(pieces, key=len).lower())


def _value_atoms(names: tuple[str, ...], v: SigmaType) -> list[Atom] | None:
    if isinstance(v, SigmaExpansion):
        out: list[Atom] = []
        for inner in v.values:
            got = _value_atoms(names, inner)
            if got is None:
                return None
            out.extend(got)
        return out
    if isinstance(v, SigmaString):  # SigmaCasedString too: lowered atoms are looser
        atom = _string_atom(names, v)
        return [atom] if atom is not None else None
    return None  # numbers, regexes, null, cidr...: no literal to require


def _cost(atoms: Atoms) -> int:
    """How likely a set of atoms is to let an event through (lower: more selective)."""
    total = 0
    for _names, kind, lit in atoms:
        if kind == "eq" or kind == "base":
            total += 1
        elif len(lit) >= 6:
            total += 2
        elif len(lit) >= 4:
            total += 4
        else:
            # Short substrings ("-e ", ".js") occur in many values: a weak filter.
            total += 20
    return total


Cost = Callable[[Atoms], int]


def _best(options: Sequence[Atoms | None], cost: Cost) -> Atoms | None:
    """For an AND: any child's atoms are necessary; keep the most selective."""
    found = [o for o in options if o is not None]
    return min(found, key=cost) if found else None


def _union(options: Sequence[Atoms | None]) -> Atoms | None:
    """For an OR: every branch must have atoms, and any of them may hold."""
    if not options or any(o is None for o in options):
        return None
    return frozenset().union(*[o for o in options if o is not None])


def _item_atoms(item: SigmaDetectionItem, names: NamesFn, cost: Cost) -> Atoms | None:
    if item.field is None or item.negated or not item.value:
        return None
    field_names = names(item.field)
    per_value = [_value_atoms(field_names, v) for v in item.value]
    sets = [frozenset(a) if a is not None else None for a in per_value]
    if item.value_linking is ConditionAND:
        return _best(sets, cost)
    return _union(sets)


def _detection_atoms(det: SigmaDetection, names: NamesFn, cost: Cost) -> Atoms | None:
    sets = [
        _detection_atoms(i, names, cost) if isinstance(i, SigmaDetection)
        else _item_atoms(i, names, cost)
        for i in det.detection_items
    ]
    return _best(sets, cost) if det.item_linking is ConditionAND else _union(sets)


def _node_atoms(node: Any, rule: SigmaRule, names: NamesFn, cost: Cost) -> Atoms | None:
    dets = rule.detection
    if isinstance(node, ConditionIdentifier):
        det = dets.detections.get(node.identifier)
        return _detection_atoms(det, names, cost) if det is not None else None
    if isinstance(node, ConditionSelector):
        sets = [_node_atoms(i, rule, names, cost)
                for i in node.resolve_referenced_detections(dets)]
        return _best(sets, cost) if node.cond_class is ConditionAND else _union(sets)
    if isinstance(node, ConditionAND):
        return _best([_node_atoms(a, rule, names, cost) for a in node.args], cost)
    if isinstance(node, ConditionOR):
        return _union([_node_atoms(a, rule, names, cost) for a in node.args])
    if isinstance(node, ConditionNOT):
        return None  # a negation requires nothing
    return None


def rule_atoms(rule: SigmaRule, conditions: Sequence[Any], names: NamesFn,
               cost: Cost = _cost) -> Atoms | None:
    """Atoms one of which every match of ``rule`` satisfies (None: no such set).

    Where an AND offers several necessary sets, ``cost`` picks one: the default prefers
    exact field values (cheap to look up per field); a raw-text search prefers long
    literals (see :mod:`kizuki.detect.grep`).
    """
    return _union([_node_atoms(c, rule, names, cost) for c in conditions])


# --------------------------------------------------------------------------- the filter


@dataclass
class _FieldIndex:
    lower: Getter
    eq: dict[str, list[int]] = field(default_factory=dict)
    base: dict[str, list[int]] = field(default_factory=dict)
    subs: dict[str, list[int]] = field(default_factory=dict)
    automaton: Any = None  # ahocorasick.Automaton over ``subs``, built once


def _getter(names: tuple[str, ...]) -> Getter:
    from kizuki.rules.compile import make_getter  # compile imports this module

    return lower_getter(names, make_getter(names))


class Prefilter:
    """Narrows a candidate list to the entries whose atoms can hold for an event.

    Whole values are looked up in a dict, executable names by their last path
    component, and every substring literal of a field at once with one Aho–Corasick
    automaton (pyahocorasick): one linear pass over the value, however many rules.
    """

    def __init__(self, atoms: Sequence[Atoms | None]) -> None:
        self.size = len(atoms)
        self.always: list[int] = []
        self.fields: dict[tuple[str, ...], _FieldIndex] = {}
        for i, a in enumerate(atoms):
            if not a:
                self.always.append(i)
                continue
            for names, kind, lit in a:
                fi = self.fields.get(names)
                if fi is None:
                    fi = self.fields[names] = _FieldIndex(_getter(names))
                if kind == "eq":
                    fi.eq.setdefault(lit, []).append(i)
                elif kind == "base":
                    fi.base.setdefault(lit, []).append(i)
                else:
                    fi.subs.setdefault(lit, []).append(i)
        for fi in self.fields.values():
            if fi.subs:
                auto = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
                for lit, rules in fi.subs.items():
                    auto.add_word(lit, tuple(rules))
                auto.make_automaton()
                fi.automaton = auto

    def select(self, event: Event) -> list[int]:
        """Indexes (ascending) of the entries that may match ``event``."""
        hit = set(self.always)
        for fi in self.fields.values():
            v = fi.lower(event)
            if v is None:
                continue
            for s in v if type(v) is tuple else (v,):
                if type(s) is not str:
                    continue
                if fi.eq:
                    r = fi.eq.get(s)
                    if r:
                        hit.update(r)
                if fi.base:
                    cut = s.rfind("\\")
                    if cut >= 0:
                        r = fi.base.get(s[cut:])
                        if r:
                            hit.update(r)
                if fi.automaton is not None and s:
                    for _end, rules in fi.automaton.iter(s):
                        hit.update(rules)
        return sorted(hit)
