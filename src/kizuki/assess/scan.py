"""Read and match labelled files one by one, on several cores, for ``kizuki eval``.

The same pattern as :class:`kizuki.detect.parallel.ParallelScan` (workers forked after
the rules are compiled; only matched events come back, in file order), but the result
is kept *per file* and says which kinds of event the file held (logsource and event
id, counted), which a miss needs to be explained ("no log source": nothing in the
file is of a logsource any rule reads). One unreadable file is an error of that file,
never of the run.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from kizuki.assess.library import Key
from kizuki.model import Event
from kizuki.rules import RuleIndex
from kizuki.sources import Reader, SourceSettings
from kizuki.sources.base import ParseWarning

# Set in the parent just before the pool forks; read by the workers.
_INDEX: RuleIndex | None = None
_SETTINGS: SourceSettings | None = None


@dataclass(slots=True)
class FileScan:
    """One input file: its matched events (rule positions in the index) and event kinds."""

    path: str
    matches: list[tuple[Event, list[int]]] = field(default_factory=list)
    kinds: Counter[Key] = field(default_factory=Counter)
    seen: int = 0
    formats: tuple[str, ...] = ()
    warnings: int = 0
    error: str | None = None


def scan_file(path: str) -> FileScan:
    """Read one file and match every event against the index set up for the workers."""
    assert _INDEX is not None
    index = _INDEX
    warnings: list[ParseWarning] = []
    reader = Reader(_SETTINGS, sink=warnings.append)
    positions = {id(rule): i for i, rule in enumerate(index.rules)}
    candidates = index.candidates
    key_of = index.key_of
    out = FileScan(path)
    kinds: Counter[Key] = Counter()
    try:
        for event in reader.read([path]):
            out.seen += 1
            kinds[key_of(event)] += 1
            matched = [positions[id(rule)] for rule, pred in candidates(event) if pred(event)]
            if matched:
                out.matches.append((event, matched))
    except Exception as exc:  # a broken file is reported; the run goes on
        out.error = f"{type(exc).__name__}: {exc}"
    out.kinds = kinds
    out.formats = tuple(dict.fromkeys(s.format for s in reader.stats.files))
    out.warnings = len(warnings)
    return out


def scan_files(index: RuleIndex, paths: Sequence[str], settings: SourceSettings | None = None,
               jobs: int = 1) -> Iterator[FileScan]:
    """:class:`FileScan` of each path, in the order given, with ``jobs`` processes."""
    global _INDEX, _SETTINGS
    _INDEX, _SETTINGS = index, settings or SourceSettings()
    if jobs <= 1 or len(paths) <= 1 or "fork" not in mp.get_all_start_methods():
        yield from map(scan_file, paths)
        return
    ctx = mp.get_context("fork")
    with ctx.Pool(jobs) as pool:
        yield from pool.imap(scan_file, paths, chunksize=1)


__all__ = ["FileScan", "scan_file", "scan_files"]
