"""Grep-first scan: find the few lines that can match before parsing any JSON.

Every compiled rule carries a *necessary* set of literals (``CompiledRule.atoms``, the
index's prefilter): a match must contain one of them. Over JSON lines, those literals
can be looked for in the raw bytes, before parsing: one case-insensitive regular
expression over each block finds the candidate lines, and only those are parsed,
normalized and matched exactly. A hunt for a scenario whose stages are rare (night access
to one share, traffic to the sinkhole) then costs little more than reading the file
(issue 3 item 7: literal values indexed).

The scan is exact when it applies: a literal is used only when its JSON-encoded form is
certain (printable ASCII without the characters JSON writers may escape: ``/ < > &``),
and a rule without such a literal set makes :func:`byte_needles` return ``None`` so the
caller falls back to the full scan. Lines that hold no candidate literal are counted but
not parsed, so a malformed line among them is not reported (the full scan reports it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from kizuki.errors import RecordError
from kizuki.model import Event
from kizuki.rules import CompiledRule, RuleIndex
from kizuki.rules.compile import parsed_conditions
from kizuki.rules.prefilter import Atoms, rule_atoms
from kizuki.sources.base import ParseContext, ParseWarning, SourceFile, SourceSettings
from kizuki.sources.winjson import EcsJsonParser

BLOCK = 8 << 20
#: Up to this many needles are searched one by one with ``bytes.find``.
FIND_MAX = 8
_UNSAFE = frozenset("/<>&")


def _needle(literal: str) -> bytes | None:
    if not literal or any(c in _UNSAFE or not (" " <= c <= "~") for c in literal):
        return None
    return orjson.dumps(literal)[1:-1]


def _byte_cost(atoms: Atoms) -> int:
    """Raw-text selectivity: long literals first; a literal unusable as bytes last."""
    total = 0
    for _names, _kind, literal in atoms:
        total += 10**6 if _needle(literal) is None else 1000 // max(len(literal), 1)
    return total


def byte_needles(rules: Iterable[CompiledRule]) -> list[bytes] | None:
    """The raw-byte literals one of which every match of every rule contains, or None.

    Field names do not matter to a raw-text search, so each rule's necessary literal
    set is derived once more from its parsed Sigma tree, preferring long literals.
    """
    out: set[bytes] = set()
    for rule in rules:
        if rule.sigma is None:
            return None
        atoms = rule_atoms(rule.sigma, parsed_conditions(rule.sigma), lambda name: (name,),
                           cost=_byte_cost)
        if not atoms:
            return None
        for _names, _kind, literal in atoms:
            needle = _needle(literal)
            if needle is None:
                return None
            out.add(needle)
    return sorted(out, key=lambda n: (-len(n), n))


#: Above this share of candidate lines the grep-first scan saves nothing.
WORTH_IT = 0.25
SAMPLE = 4 << 20


def candidate_share(paths: Iterable[str | os.PathLike[str]], needles: Sequence[bytes]
                    ) -> float:
    """The share of lines holding a needle in the first 4 MiB of each file (a sample)."""
    lines = hits = 0
    low = [n.lower() for n in needles]
    for raw in paths:
        with open(raw, "rb") as fh:
            block = fh.read(SAMPLE)
        block = block[: block.rfind(b"\n") + 1].lower()
        for line in block.split(b"\n")[:-1]:
            lines += 1
            hits += any(n in line for n in low)
    return hits / lines if lines else 1.0


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: open(path, "rb")


@dataclass
class GrepScan:
    """Candidate lines of ECS JSON-lines files, parsed and matched exactly."""

    index: RuleIndex
    needles: Sequence[bytes]
    settings: SourceSettings = field(default_factory=SourceSettings)
    rows: int = 0
    candidates: int = 0
    warnings: list[ParseWarning] = field(default_factory=list)

    def matches(self, paths: Iterable[str | os.PathLike[str]]
                ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        # Needles and blocks are lowered (ASCII only, lengths kept) so the search itself is
        # case-sensitive: several times faster than re.IGNORECASE over raw bytes.
        pattern = re.compile(b"|".join(re.escape(n.lower()) for n in self.needles))
        parser = EcsJsonParser()
        candidates = self.index.candidates
        for raw in paths:
            path = Path(raw)
            source = SourceFile(str(path), _opener(path), real_path=str(path))
            ctx = ParseContext(source, self.settings, self.warnings.append)
            for offset, line in self._candidate_lines(path, pattern):
                self.candidates += 1
                try:
                    event = parser.parse_line(line, offset, None, ctx)
                except RecordError as exc:
                    ctx.warn(offset, exc.kind, exc.message, line)
                    continue
                if event is None:
                    continue
                matched = [rule for rule, pred in candidates(event) if pred(event)]
                if matched:
                    yield event, matched

    def _candidate_lines(self, path: Path, pattern: re.Pattern[bytes]
                         ) -> Iterator[tuple[int, bytes]]:
        base = 0
        carry = b""
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(BLOCK)
                block = carry + chunk
                if not chunk:
                    if block:
                        self.rows += 1
                        yield from self._lines_in(block + b"\n", base, pattern)
                    return
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    carry = block
                    continue
                body, carry = block[:cut], block[cut:]
                self.rows += body.count(b"\n")
                yield from self._lines_in(body, base, pattern)
                base += cut

    def _lines_in(self, body: bytes, base: int, pattern: re.Pattern[bytes]
                  ) -> Iterator[tuple[int, bytes]]:
        lowered = body.lower()
        needles = [n.lower() for n in self.needles]
        if len(needles) <= FIND_MAX:
            # A few needles: bytes.find (a vectorised substring search) per needle beats
            # one regular expression that tries every alternative at every position.
            starts: set[int] = set()
            for needle in needles:
                pos = lowered.find(needle)
                while pos >= 0:
                    start = lowered.rfind(b"\n", 0, pos) + 1
                    starts.add(start)
                    end = lowered.find(b"\n", pos)
                    pos = lowered.find(needle, end + 1)
            for start in sorted(starts):
                end = body.find(b"\n", start)
                line = body[start:end].rstrip(b"\r")
                if line.strip():
                    yield base + start, line
            return
        pos = 0
        search = pattern.search
        while True:
            m = search(lowered, pos)
            if m is None:
                return
            start = lowered.rfind(b"\n", 0, m.start()) + 1
            end = lowered.find(b"\n", m.end())
            line = body[start:end].rstrip(b"\r")
            if line.strip():
                yield base + start, line
            pos = end + 1
