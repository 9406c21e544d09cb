"""Match many files on several cores: parse and Sigma matching in worker processes.

Parsing and single-event matching are stateless, so files can be shared out to worker
processes; only the matched events come back, and the :class:`~kizuki.detect.Engine`
orders them by event time before any stateful detector sees them, so the alerts are
exactly those of a single-process run. Workers are forked after the rules are compiled
(compiled predicates are closures and cannot be pickled; a fork shares them for free).
On platforms without ``fork`` the scan runs in-process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kizuki.model import Event
from kizuki.rules import CompiledRule, RuleIndex
from kizuki.sources import Reader, SourceSettings, prepare
from kizuki.sources.base import ParseWarning
from kizuki.sources.reader import FileStats, is_skipped

# Set in the parent just before the pool forks; read by the workers.
_INDEX: RuleIndex | None = None
_SETTINGS: SourceSettings | None = None
#: Position of each rule in ``_INDEX.rules`` (rules travel back as positions).
_POSITIONS: dict[int, int] = {}


@dataclass(slots=True)
class FileResult:
    """What one worker sends back for one input path."""

    matches: list[tuple[Event, list[int]]]
    stats: list[FileStats]
    warnings: list[ParseWarning]
    seen: int


def _scan_file(path: str) -> FileResult:
    assert _INDEX is not None
    warnings: list[ParseWarning] = []
    reader = Reader(_SETTINGS, sink=warnings.append)
    positions = _POSITIONS
    candidates = _INDEX.candidates
    out: list[tuple[Event, list[int]]] = []
    seen = 0
    for event in reader.read([path]):
        seen += 1
        matched = [positions[id(rule)] for rule, pred in candidates(event) if pred(event)]
        if matched:
            out.append((event, matched))
    return FileResult(out, reader.stats.files, warnings, seen)


def _inputs(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.rglob("*"))
                       if f.is_file() and not is_skipped(f.name))
        else:
            out.append(str(p))
    return out


class ParallelScan:
    """Read and match ``paths`` with ``jobs`` processes; stats and warnings kept."""

    def __init__(self, index: RuleIndex, settings: SourceSettings | None = None,
                 jobs: int | None = None) -> None:
        self.index = index
        self.settings = settings or SourceSettings()
        self.jobs = jobs or os.cpu_count() or 1
        self.stats: list[FileStats] = []
        self.warnings: list[ParseWarning] = []
        self.seen = 0

    def matches(self, paths: Sequence[str | os.PathLike[str]]
                ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        """(event, matched rules) for every event that matched at least one rule."""
        global _INDEX, _SETTINGS, _POSITIONS
        files = _inputs(paths)
        rules = self.index.rules
        _POSITIONS = {id(rule): i for i, rule in enumerate(rules)}
        if self.jobs <= 1 or len(files) <= 1 or "fork" not in mp.get_all_start_methods():
            _INDEX, _SETTINGS = self.index, self.settings
            results: Iterator[FileResult] = map(_scan_file, files)
            yield from self._collect(results, rules)
            return
        # Each worker reads whole files on its own core: the evtx library's own thread
        # pool would only make the workers compete for the same cores.
        _INDEX, _SETTINGS = self.index, replace(self.settings, evtx_threads=1)
        prepare()  # once here, not in every worker
        ctx = mp.get_context("fork")
        with ctx.Pool(self.jobs) as pool:
            # imap keeps the file order, so statistics and warnings read as in one process.
            yield from self._collect(pool.imap(_scan_file, files, chunksize=8), rules)

    def _collect(self, results: Iterator[FileResult], rules: list[CompiledRule]
                 ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        for result in results:
            self.stats.extend(result.stats)
            self.warnings.extend(result.warnings)
            self.seen += result.seen
            for event, positions in result.matches:
                yield event, [rules[i] for i in positions]
