"""Assemble the detection (rules, correlations, scenarios, context, risk) and run it.

``kizuki hunt`` and the live service build the same :class:`Detection` from the same
folders, so a hunt over two years of files and the live stream give the same alerts
(architecture: one pipeline). With no folders given, the built-in library is used: the
repository's ``rules/`` and ``scenarios/`` (issue 4, :mod:`kizuki.rules.library`).
"""

from __future__ import annotations

import atexit
import gc
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from kizuki.context import Context
from kizuki.detect.columnar import scan_jsonl
from kizuki.detect.correlation import CorrelationDetector
from kizuki.detect.engine import Detector, Engine, EngineSettings
from kizuki.detect.grep import WORTH_IT, GrepScan, byte_needles, candidate_share
from kizuki.detect.parallel import ParallelScan
from kizuki.detect.risk import RiskDetector, RiskSettings
from kizuki.detect.scenario import ScenarioDetector
from kizuki.errors import KizukiError
from kizuki.model import Alert, Event
from kizuki.rules import CompiledRule, RuleIndex
from kizuki.rules.library import load_library
from kizuki.rules.scenario import Scenario
from kizuki.sources import Reader, SourceSettings, prepare, registry
from kizuki.sources.base import HEAD_SIZE, ParseWarning
from kizuki.sources.reader import FileStats
from kizuki.sources.winjson import EcsJsonParser

_UNFREEZE_AT_EXIT: list[bool] = []


@dataclass
class Detection:
    """Everything loaded for detection, and what could not be loaded (with where)."""

    rules: list[CompiledRule]
    scenarios: list[Scenario]
    correlations: CorrelationDetector
    context: Context
    errors: list[KizukiError] = field(default_factory=list)
    min_rule_level: str = "low"
    risk: RiskSettings | None = field(default_factory=RiskSettings)

    @property
    def index(self) -> RuleIndex:
        return RuleIndex(self.rules)

    def engine(self, lateness: timedelta | None = None, index: RuleIndex | None = None
               ) -> Engine:
        """A fresh engine: correlations → scenarios → risk after the rule alerts. Every
        detector is new, so engines made from one ``Detection`` share no state."""
        detectors: list[Detector] = [self.correlations.fresh()]
        if self.scenarios:
            detectors.append(ScenarioDetector(self.scenarios, self.context))
        if self.risk is not None:
            detectors.append(RiskDetector(self.risk, self.context))
        settings = EngineSettings(lateness=lateness, min_rule_level=self.min_rule_level,
                                  silent_rules=self.correlations.silent_rules())
        return Engine(index or self.index, detectors, settings)


def load_detection(
    rule_paths: Sequence[Path] = (),
    scenario_paths: Sequence[Path] = (),
    context_dir: Path | None = None,
    *,
    builtin: bool | None = None,
    min_rule_level: str = "low",
    risk: bool = True,
) -> Detection:
    """Load rules, correlations and scenarios (:func:`kizuki.rules.library.load_library`);
    errors are collected, never raised. ``builtin=None``: the built-in library when
    neither rules nor scenarios are given.
    """
    library = load_library(rule_paths, scenario_paths, builtin=builtin)
    errors: list[KizukiError] = list(library.errors)
    context = Context.load(context_dir) if context_dir else Context()
    correlation = CorrelationDetector(library.correlations, library.rules)
    errors.extend(correlation.errors)
    # The compiled library (thousands of rules, their closures and pySigma trees) lives
    # as long as the process: take it out of the cyclic GC's reach, which otherwise walks
    # it again on every collection of a long scan (and, before a fork, would touch every
    # page the workers share).
    prepare()  # parsers and mappings too are loaded once, with the library
    gc.collect()
    gc.freeze()
    if not _UNFREEZE_AT_EXIT:
        # Let the interpreter's last collection see them again, so extension modules
        # (DuckDB's bindings) are torn down cleanly.
        atexit.register(gc.unfreeze)
        _UNFREEZE_AT_EXIT.append(True)
    # A hunt asks risk for what no single detection says: two distinct rules at least.
    return Detection(library.rules, library.scenarios, correlation, context, errors,
                     min_rule_level, RiskSettings(min_sources=2) if risk else None)


@dataclass
class HuntResult:
    """Alerts (in the order decided) with the read statistics.

    When the hunt streamed its alerts to an ``on_alert`` callback, ``alerts`` is empty
    and ``counts`` still says how many of each kind there were.
    """

    alerts: list[Alert]
    files: list[FileStats]
    events_seen: int
    events_matched: int
    late_events: int
    counts: Counter[str] = field(default_factory=Counter)


class _Alerts:
    """Where a hunt's alerts go: a list, or a caller's callback as each is decided."""

    def __init__(self, on_alert: Callable[[Alert], None] | None) -> None:
        self.on_alert = on_alert
        self.kept: list[Alert] = []
        self.counts: Counter[str] = Counter()

    def take(self, alerts: Iterable[Alert]) -> None:
        on_alert, kept, counts = self.on_alert, self.kept, self.counts
        for alert in alerts:
            counts[alert.kind.value] += 1
            if on_alert is None:
                kept.append(alert)
            else:
                on_alert(alert)

    def result(self, engine: Engine, files: list[FileStats], seen: int, *,
               close: bool = True) -> HuntResult:
        if close:
            self.take(engine.close_stream())
        return HuntResult(self.kept, files, seen, engine.events_matched,
                          engine.late_events, self.counts)


def hunt(
    paths: Sequence[str | os.PathLike[str]],
    detection: Detection,
    *,
    settings: SourceSettings | None = None,
    sink: Callable[[ParseWarning], None] | None = None,
    jobs: int = 1,
    on_event: Callable[[Event], None] | None = None,
    fmt: str | None = None,
    on_alert: Callable[[Alert], None] | None = None,
) -> HuntResult:
    """Run the detection over files and folders.

    ``jobs > 1`` parses and matches in worker processes (same alerts). ``on_event`` sees
    every event (for a timeline); it needs ``jobs == 1``. ``on_alert`` receives each
    alert as it is decided, instead of the result keeping them all.
    """
    index = detection.index
    engine = detection.engine(index=index)
    out = _Alerts(on_alert)
    plain = on_event is None and fmt is None and _all_ecs_json(paths)
    needles = byte_needles(detection.rules) if plain else None
    if plain and needles is not None and candidate_share(paths, needles) <= WORTH_IT:
        # Plain ECS JSON-lines files and rules that all need a literal: parse only the
        # lines that hold one (kizuki.detect.grep), same alerts as the full scan.
        grep = GrepScan(index, needles, settings or SourceSettings())
        out.take(engine.feed_matched(grep.matches(paths)))
        out.take(engine.feed_matched((), seen=grep.rows))
        for warning in grep.warnings:
            if sink is not None:
                sink(warning)
        files = [FileStats(str(p), EcsJsonParser.NAME) for p in paths]
        return out.result(engine, files, grep.rows)
    if plain and (jobs <= 1 or len(paths) <= 1):
        # ECS JSON lines with common literals: the columnar scan (kizuki.detect.columnar)
        # parses and matches in Arrow (on all cores) and builds events for matched rows
        # only. Worker processes share out whole files, so one file goes here too.
        columnar = scan_jsonl(list(paths), index, settings=settings, sink=sink)
        out.take(engine.feed_matched(columnar))
        out.take(engine.feed_matched((), seen=columnar.rows))
        files = [FileStats(str(p), EcsJsonParser.NAME) for p in paths]
        return out.result(engine, files, columnar.rows)
    if jobs > 1 and on_event is None and fmt is None:
        scan = ParallelScan(index, settings, jobs)
        out.take(engine.feed_matched(scan.matches(paths)))
        result = out.result(engine, scan.stats, scan.seen)
        for warning in scan.warnings:
            if sink is not None:
                sink(warning)
        return result
    reader = Reader(settings, sink=sink, fmt=fmt)

    def events() -> Iterable[Event]:
        for event in reader.read(paths):
            if on_event is not None:
                on_event(event)
            yield event

    out.take(engine.run_stream(events()))
    return out.result(engine, reader.stats.files, engine.events_seen, close=False)


def _all_ecs_json(paths: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether every input is a plain (uncompressed) file of ECS JSON lines."""
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(HEAD_SIZE)
        parser, _ = registry.sniff(head, path.name)
        if parser is None or parser.NAME != EcsJsonParser.NAME:
            return False
    return True


def hunt_events(events: Iterable[Event], detection: Detection,
                on_alert: Callable[[Alert], None] | None = None) -> HuntResult:
    """Run the detection over an event stream (the vault's history, a live feed)."""
    engine = detection.engine()
    out = _Alerts(on_alert)
    out.take(engine.run_stream(events))
    return out.result(engine, [], engine.events_seen, close=False)
