"""Dispatch events to the rules of their logsource and event id (issue 3 item 7).

Each event meets only the rules that can match it: the index keys events by
``(product, service, category, EventID)`` and resolves each key once into the list of
(rule, predicate) pairs for it — rules whose logsource covers the event and whose
detection does not pin other event ids. Keys are few (tens to hundreds per data set),
so after the first event of a kind the cost per event is one dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kizuki.model import Event
from kizuki.rules.compile import CompiledRule, event_id_of
from kizuki.rules.modifiers import Predicate
from kizuki.rules.pipeline import Pipeline
from kizuki.rules.prefilter import Atoms, Prefilter

Key = tuple[str | None, str | None, str | None, int | None]
Candidates = list[tuple[CompiledRule, Predicate]]

#: Candidate lists at least this long get a literal prefilter (shorter ones are cheaper
#: to run through than to filter).
PREFILTER_MIN = 16


class _Dispatch:
    """The candidates of one key, with the prefilter that narrows them per event."""

    __slots__ = ("candidates", "prefilter")

    def __init__(self, candidates: Candidates, atoms: list[Atoms | None]) -> None:
        self.candidates = candidates
        self.prefilter = Prefilter(atoms) if len(candidates) >= PREFILTER_MIN else None

    def select(self, event: Event) -> Candidates:
        if self.prefilter is None:
            return self.candidates
        c = self.candidates
        return [c[i] for i in self.prefilter.select(event)]


class _Group:
    """The rules of one (product, service, category), by the event ids they pin."""

    __slots__ = ("any_id", "by_id", "pinned")

    def __init__(self) -> None:
        self.any_id: list[int] = []
        self.by_id: dict[int, list[int]] = {}
        self.pinned: list[int] = []

    def add(self, pos: int, event_ids: frozenset[int] | None) -> None:
        if event_ids is None:
            self.any_id.append(pos)
            return
        self.pinned.append(pos)
        for eid in event_ids:
            self.by_id.setdefault(eid, []).append(pos)

    def collect(self, event_id: int | None, into: set[int]) -> None:
        """Add the positions of the rules that may match events of ``event_id``."""
        into.update(self.any_id)
        if event_id is None:
            into.update(self.pinned)  # an event without an id meets every pinned rule
        else:
            into.update(self.by_id.get(event_id, ()))


class RuleIndex:
    """Compiled rules indexed by logsource and Windows event id."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules: list[CompiledRule] = list(rules)
        self._cache: dict[Key, _Dispatch] = {}
        # Rules grouped by (product, service, category) as their logsource names them
        # (None: any), and inside a group by the event ids the detection pins, so that
        # resolving a new key looks only at the rules that can apply to it instead of
        # all of them (a SigmaHQ set has thousands; a set holds hundreds of keys).
        # A category that the pipeline binds to Windows event types (process_creation on
        # Security 4688) also applies to those event types, whatever their own category.
        self._groups: dict[tuple[str | None, str | None, str | None], _Group] = {}
        self._bindable: dict[str, list[tuple[Pipeline, list[int]]]] = {}
        for pos, rule in enumerate(self.rules):
            ls = rule.logsource
            group = self._groups.get((ls.product, ls.service, ls.category))
            if group is None:
                group = self._groups[(ls.product, ls.service, ls.category)] = _Group()
            group.add(pos, rule.event_ids)
            category = ls.category
            if category is not None and rule.pipeline is not None and \
                    rule.pipeline.bindings(category):
                groups = self._bindable.setdefault(category, [])
                for pipeline, members in groups:
                    if pipeline is rule.pipeline:
                        members.append(pos)
                        break
                else:
                    groups.append((rule.pipeline, [pos]))
        self._shared: dict[tuple[tuple[int, str | None], ...], _Dispatch] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def key_of(self, event: Event) -> Key:
        """The dispatch key of an event."""
        ls = event.logsource
        return (
            ls.product.lower() if ls.product else None,
            ls.service.lower() if ls.service else None,
            ls.category.lower() if ls.category else None,
            event_id_of(event),
        )

    def _dispatch(self, event: Event) -> _Dispatch:
        key = self.key_of(event)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolve(key)
        return found

    def candidates(self, event: Event, *, prefilter: bool = True) -> Candidates:
        """The (rule, predicate) pairs that may match ``event``.

        With ``prefilter`` the list is narrowed by the event's literals; without, it
        is every rule of the event's logsource and event id.
        """
        d = self._dispatch(event)
        return d.select(event) if prefilter else d.candidates

    def _resolve(self, key: Key) -> _Dispatch:
        product, service, category, event_id = key
        positions: set[int] = set()
        for p in {None, product}:
            for s in {None, service}:
                for c in {None, category}:
                    group = self._groups.get((p, s, c))
                    if group is not None:
                        group.collect(event_id, positions)
        if product == "windows":
            for rule_category, groups in self._bindable.items():
                for pipeline, members in groups:
                    if pipeline.binding_for(rule_category, service, event_id) is not None:
                        positions.update(members)
        out: Candidates = []
        atoms: list[Atoms | None] = []
        shape: list[tuple[int, str | None]] = []
        rules = self.rules
        for pos in sorted(positions):
            rule = rules[pos]
            found = rule.variant_for(product, service, category, event_id)
            if found is not None:
                out.append((rule, found[0]))
                atoms.append(rule.atoms.get(found[1]))
                shape.append((pos, found[1]))
        # Keys that differ only in ways no rule cares about share one dispatch (and one
        # prefilter, whose automata are the costly part to build).
        ident = tuple(shape)
        shared = self._shared.get(ident)
        if shared is None:
            shared = self._shared[ident] = _Dispatch(out, atoms)
        return shared

    def match(self, event: Event) -> list[CompiledRule]:
        """The rules ``event`` matches, in index order."""
        return [rule for rule, pred in self.candidates(event) if pred(event)]

    def match_all(self, events: Iterable[Event]) -> Iterator[tuple[CompiledRule, Event]]:
        """Every (rule, event) match over a stream of events, in event order."""
        cache = self._cache
        resolve = self._resolve
        key_of = self.key_of
        for event in events:
            key = key_of(event)
            found = cache.get(key)
            if found is None:
                found = cache[key] = resolve(key)
            for rule, pred in found.select(event):
                if pred(event):
                    yield rule, event
