"""Event-time windows for correlations: what one group holds, and nothing more (issue 3 items 2, 7).

A correlation keeps, per group, only the matched entries that can still take part in a
decision: the entries inside the timespan (:class:`Window`), the latest entry of each
referenced rule (temporal), or the best partial chains (temporal_ordered,
:class:`OrderedChains`). Everything is evicted by event time, so memory is bounded by
the events of one timespan, whatever the length of the stream.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kizuki.model import Evidence

Number = int | float


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing a correlation counts: a matched event, or an alert of a chained correlation.

    ``seq`` is the detector's delivery order (it breaks timestamp ties, and orders
    temporal_ordered stages); ``indices`` are the positions, in the correlation's
    ``rules`` list, of the referenced rules this entry matched; ``value`` is the
    condition field's value (hashable for value_count, a number for the value_*
    metrics, ``None`` when absent).
    """

    ts: datetime
    seq: int
    indices: tuple[int, ...]
    evidence: tuple[Evidence, ...]
    value: Hashable | None = None


class Window:
    """The entries of one group inside the timespan, with running aggregates.

    Counts are exact; distinct values are a counter; sums are running sums (exact for
    integer values); percentiles use a sorted list, so adding or evicting one entry
    costs a binary search and one list move.
    """

    __slots__ = ("_distinct", "_numbers", "_sorted", "_sum", "_track", "entries")

    def __init__(self, measure: str = "count") -> None:
        # measure: count | distinct | sum | avg | percentile | median (see measure()).
        self.entries: deque[Entry] = deque()
        self._track = {"avg": "sum", "percentile": "sorted", "median": "sorted"}.get(
            measure, measure)
        self._distinct: dict[Hashable, int] = {}
        self._sum: Number = 0
        self._numbers = 0
        self._sorted: list[Number] = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: Entry) -> None:
        """Append ``entry`` (kept in time order even if it is older than the last one)."""
        entries = self.entries
        if entries and entry.ts < entries[-1].ts:
            # Rare: an alert of a chained correlation decided after newer events.
            pos = len(entries)
            while pos > 0 and entries[pos - 1].ts > entry.ts:
                pos -= 1
            entries.insert(pos, entry)
        else:
            entries.append(entry)
        self._count(entry, 1)

    def evict_before(self, cutoff: datetime) -> None:
        """Drop the entries older than ``cutoff`` (an entry exactly at it stays)."""
        entries = self.entries
        while entries and entries[0].ts < cutoff:
            self._count(entries.popleft(), -1)

    def _count(self, entry: Entry, sign: int) -> None:
        value = entry.value
        track = self._track
        if value is None or track == "count":
            return
        if track == "distinct":
            left = self._distinct.get(value, 0) + sign
            if left:
                self._distinct[value] = left
            else:
                del self._distinct[value]
            return
        number = value if isinstance(value, int | float) else None
        if number is None:
            return
        self._sum += number * sign
        self._numbers += sign
        if track == "sorted":
            if sign > 0:
                bisect.insort(self._sorted, number)
            else:
                del self._sorted[bisect.bisect_left(self._sorted, number)]

    # -- measures ---------------------------------------------------------------------
    def distinct(self) -> int:
        """How many distinct values the window holds."""
        return len(self._distinct)

    def total(self) -> Number | None:
        """The sum of the numeric values, or None when there is none."""
        return self._sum if self._numbers else None

    def mean(self) -> float | None:
        """The average of the numeric values, or None when there is none."""
        return self._sum / self._numbers if self._numbers else None

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile of the numeric values (see :func:`percentile`)."""
        return percentile(self._sorted, p)

    def measure(self, name: str, p: float | None = None) -> float | None:
        """The window's ``count``, ``distinct``, ``sum``, ``avg``, ``median`` or
        ``percentile`` (the ``p``-th); None when there is no value to measure."""
        if name == "count":
            return float(len(self.entries))
        if name == "distinct":
            return float(self.distinct())
        if name == "sum":
            total = self.total()
            return None if total is None else float(total)
        if name == "avg":
            return self.mean()
        return self.percentile(50.0 if p is None or name == "median" else p)


def percentile(values: Sequence[Number], p: float) -> float | None:
    """The ``p``-th percentile of sorted ``values``, linear between closest ranks.

    This is the usual definition (NumPy's default, Excel's PERCENTILE.INC, Elasticsearch
    and Splunk ``perc`` on small sets): rank ``(n - 1) * p / 100``; the median is
    ``p = 50``. None for no values.
    """
    n = len(values)
    if not n:
        return None
    rank = (n - 1) * min(max(p, 0.0), 100.0) / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, n - 1)
    return float(values[lo] + (values[hi] - values[lo]) * (rank - lo))


Chain = tuple[Entry, ...]


class OrderedChains:
    """Partial temporal_ordered chains of one group, O(rules²) whatever the stream.

    A chain is a sequence of entries, each matching a referenced rule with a higher
    position than the one before, each delivered after the one before. For every last
    rule ``j`` and length ``l`` only the chain that *starts latest* is kept: it is the
    one most likely to still fit in a later window, and any chain that could extend
    another could extend it. So the state never grows with the number of events.
    """

    __slots__ = ("_best", "_rules")

    def __init__(self, rules: int) -> None:
        self._rules = rules
        # _best[j][l - 1]: the latest-starting chain of length l ending with rule j.
        self._best: list[list[Chain | None]] = [[None] * rules for _ in range(rules)]

    def push(self, entry: Entry) -> list[Chain]:
        """Record ``entry``; the chains it ends (longest first, then latest start)."""
        made: list[tuple[int, Chain]] = []
        for i in sorted(set(entry.indices)):
            made.append((i, (entry,)))
            for length in range(2, i + 2):
                prev = _latest(self._best[j][length - 2] for j in range(i))
                if prev is not None:
                    made.append((i, (*prev, entry)))
        # Update after computing, so one entry never plays two stages of one chain.
        for i, chain in made:
            slot = self._best[i]
            old = slot[len(chain) - 1]
            if old is None or (chain[0].ts, chain[0].seq) >= (old[0].ts, old[0].seq):
                slot[len(chain) - 1] = chain
        chains = [chain for _, chain in made]
        chains.sort(key=lambda c: (-len(c), -c[0].ts.timestamp(), -c[0].seq))
        return chains

    def size(self) -> int:
        """How many chains are held (for memory checks)."""
        return sum(1 for row in self._best for c in row if c is not None)


def _latest(chains: Iterable[Chain | None]) -> Chain | None:
    best: Chain | None = None
    for chain in chains:
        if chain is not None and (best is None or
                                  (chain[0].ts, chain[0].seq) > (best[0].ts, best[0].seq)):
            best = chain
    return best


def longest_chain(entries: Iterable[Entry], rules: int) -> Chain:
    """The longest ordered chain among ``entries`` (in delivery order); ties: latest."""
    best: list[Chain] = [() for _ in range(rules)]
    for entry in entries:
        made: list[tuple[int, Chain]] = []
        for i in sorted(set(entry.indices)):
            prev = max((best[j] for j in range(i)), key=len, default=())
            made.append((i, (*prev, entry)))
        for i, chain in made:
            if len(chain) >= len(best[i]):
                best[i] = chain
    return max(reversed(best), key=len)


def latest_per_rule(entries: Iterable[Entry], rules: int) -> list[Entry | None]:
    """The latest entry of each referenced rule among ``entries``."""
    latest: list[Entry | None] = [None] * rules
    for entry in entries:
        for i in entry.indices:
            latest[i] = entry
    return latest


def by_delivery(entries: Iterable[Entry]) -> list[Entry]:
    """``entries`` without repeats, in delivery order."""
    seen: dict[int, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.seq, entry)
    return [seen[s] for s in sorted(seen)]


def number(raw: object) -> int | float | None:
    """``raw`` as a finite number (ints stay exact), or None; booleans are not numbers."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return raw if math.isfinite(raw) else None
    text = str(raw).strip()
    try:
        return int(text) if text.lstrip("-").isdigit() else _finite(float(text))
    except ValueError:
        return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
