"""Literal prefilter: pick, per event, the few rules whose literals can occur in it.

A process-creation event meets some 1,400 SigmaHQ rules; nearly all of them require a
literal somewhere (``Image|endswith: '\\whoami.exe'``, ``OriginalFileName: ...``,
``CommandLine|contains: ...``). For each rule this module derives a *necessary* set of
atoms — at least one must hold for the rule to match — from the positive part of its
condition. The index then looks each event's field values up once (exact values in a
dict, executable names by their last path component, substrings through 4-grams) and
runs only the rules with a possible atom, plus the rules without atoms. The prefilter
only narrows: every selected rule still runs its exact predicate, so results are the
same with or without it (issue 3 item 7: literal values indexed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from kizuki.rules.memo import MEMO, Getter, lower_getter

#: An atom: (event field names, kind, lowered literal). Kinds: "eq" whole value,
#: "base" the value ends with this last path component ("\\whoami.exe"), "sub" the
#: literal occurs in the value.
Atom = tuple[tuple[str, ...], str, str]
Atoms = frozenset[Atom]
NamesFn = Callable[[str], tuple[str, ...]]

GRAM = 4
#: A rule needing more than this many literals too short for a gram (the emoji rules
#: list thousands) is cheaper to run on every event than to look up.
MAX_SHORT = 16
#: Values longer than this are not split into grams (a 10 KB script block would cost
#: more to split than the rules it could skip); their substring atoms count as hits.
MAX_GRAM_TEXT = 2048


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
        elif len(lit) >= GRAM + 2:
            total += 2
        elif len(lit) >= GRAM:
            total += 4
        else:
            total += 20
    return total


def _best(options: Sequence[Atoms | None]) -> Atoms | None:
    """For an AND: any child's atoms are necessary; keep the most selective."""
    found = [o for o in options if o is not None]
    return min(found, key=_cost) if found else None


def _union(options: Sequence[Atoms | None]) -> Atoms | None:
    """For an OR: every branch must have atoms, and any of them may hold."""
    if not options or any(o is None for o in options):
        return None
    return frozenset().union(*[o for o in options if o is not None])


def _item_atoms(item: SigmaDetectionItem, names: NamesFn) -> Atoms | None:
    if item.field is None or item.negated or not item.value:
        return None
    field_names = names(item.field)
    per_value = [_value_atoms(field_names, v) for v in item.value]
    sets = [frozenset(a) if a is not None else None for a in per_value]
    if item.value_linking is ConditionAND:
        return _best(sets)
    return _union(sets)


def _detection_atoms(det: SigmaDetection, names: NamesFn) -> Atoms | None:
    sets = [
        _detection_atoms(i, names) if isinstance(i, SigmaDetection) else _item_atoms(i, names)
        for i in det.detection_items
    ]
    return _best(sets) if det.item_linking is ConditionAND else _union(sets)


def _node_atoms(node: Any, rule: SigmaRule, names: NamesFn) -> Atoms | None:
    dets = rule.detection
    if isinstance(node, ConditionIdentifier):
        det = dets.detections.get(node.identifier)
        return _detection_atoms(det, names) if det is not None else None
    if isinstance(node, ConditionSelector):
        sets = [_node_atoms(i, rule, names) for i in node.resolve_referenced_detections(dets)]
        return _best(sets) if node.cond_class is ConditionAND else _union(sets)
    if isinstance(node, ConditionAND):
        return _best([_node_atoms(a, rule, names) for a in node.args])
    if isinstance(node, ConditionOR):
        return _union([_node_atoms(a, rule, names) for a in node.args])
    if isinstance(node, ConditionNOT):
        return None  # a negation requires nothing
    return None


def rule_atoms(rule: SigmaRule, conditions: Sequence[Any], names: NamesFn) -> Atoms | None:
    """Atoms one of which every match of ``rule`` satisfies (None: no such set)."""
    return _union([_node_atoms(c, rule, names) for c in conditions])


# --------------------------------------------------------------------------- the filter


@dataclass
class _FieldIndex:
    lower: Getter
    eq: dict[str, list[int]] = field(default_factory=dict)
    base: dict[str, list[int]] = field(default_factory=dict)
    grams: dict[str, list[int]] = field(default_factory=dict)
    short: dict[str, list[int]] = field(default_factory=dict)
    any_sub: list[int] = field(default_factory=list)  # rules with a "sub" atom here


def _getter(names: tuple[str, ...]) -> Getter:
    from kizuki.rules.compile import make_getter  # compile imports this module

    return lower_getter(names, make_getter(names))


def _grams(s: str) -> set[str]:
    return {s[i : i + GRAM] for i in range(len(s) - GRAM + 1)}


class Prefilter:
    """Narrows a candidate list to the entries whose atoms can hold for an event."""

    def __init__(self, atoms: Sequence[Atoms | None]) -> None:
        self.size = len(atoms)
        self.always: list[int] = []
        self.fields: dict[tuple[str, ...], _FieldIndex] = {}
        # Pick for each substring literal its rarest gram among all literals here.
        freq: Counter[str] = Counter()
        for a in atoms:
            for _n, kind, lit in a or ():
                if kind == "sub" and len(lit) >= GRAM:
                    freq.update(_grams(lit))
        for i, a in enumerate(atoms):
            if not a or sum(1 for x in a if x[1] == "sub" and len(x[2]) < GRAM) > MAX_SHORT:
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
                elif len(lit) >= GRAM:
                    gram = min(_grams(lit), key=lambda g: (freq[g], g))
                    fi.grams.setdefault(gram, []).append(i)
                    fi.any_sub.append(i)
                else:
                    fi.short.setdefault(lit, []).append(i)
                    fi.any_sub.append(i)

    def select(self, event: Event) -> list[int]:
        """Indexes (ascending) of the entries that may match ``event``."""
        hit = set(self.always)
        for names, fi in self.fields.items():
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
                if fi.grams:
                    table = fi.grams
                    if len(table) <= len(s):
                        # Few grams: searching each in the value beats splitting it.
                        for g, r in table.items():
                            if g in s:
                                hit.update(r)
                    elif len(s) > MAX_GRAM_TEXT:
                        hit.update(fi.any_sub)
                        continue
                    else:
                        for g in _event_grams(event, names, s):
                            r = table.get(g)
                            if r:
                                hit.update(r)
                for lit, r in fi.short.items():
                    if lit in s:
                        hit.update(r)
        return sorted(hit)


def _event_grams(event: Event, names: tuple[str, ...], s: str) -> set[str]:
    """The grams of a field's lowered value, once per event for all candidate lists."""
    memo = MEMO.values(event)
    key = ("\\0grams", names, s)
    g: set[str] | None = memo.get(key)
    if g is None:
        g = memo[key] = _grams(s)
    return g
