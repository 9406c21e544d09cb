"""Assemble the detection (rules, correlations, scenarios, context, risk) and run it.

``kizuki hunt`` and the live service build the same :class:`Detection` from the same
folders, so a hunt over two years of files and the live stream give the same alerts
(architecture: one pipeline). With no folders given, the built-in library is used: the
repository's ``rules/`` and ``scenarios/`` (issue 4).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import kizuki
from kizuki.context import Context
from kizuki.detect.correlation import CorrelationDetector
from kizuki.detect.engine import Detector, Engine, EngineSettings
from kizuki.detect.parallel import ParallelScan
from kizuki.detect.risk import RiskDetector, RiskSettings
from kizuki.detect.scenario import ScenarioDetector
from kizuki.errors import ConfigError, KizukiError
from kizuki.model import Alert, Event
from kizuki.rules import CompiledRule, RuleIndex, load_ruleset
from kizuki.rules.scenario import Scenario, load_scenarios
from kizuki.sources import Reader, SourceSettings
from kizuki.sources.base import ParseWarning
from kizuki.sources.reader import FileStats

REPO = Path(kizuki.__file__).resolve().parents[2]


def builtin_library() -> tuple[list[Path], list[Path]]:
    """The built-in rule and scenario folders (the repository's ``rules/``, ``scenarios/``).

    ``KIZUKI_LIBRARY`` may point at another checkout of the library.
    """
    root = Path(os.environ.get("KIZUKI_LIBRARY", REPO))
    rules = [p for p in (root / "rules",) if p.is_dir()]
    scenarios = [p for p in (root / "scenarios",) if p.is_dir()]
    if not rules and not scenarios:
        raise ConfigError(
            f"no built-in library under {root} (rules/, scenarios/): pass --rules and "
            "--scenarios, or set KIZUKI_LIBRARY to a Kizuki checkout")
    return rules, scenarios


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
        """A fresh engine: correlations → scenarios → risk after the rule alerts."""
        detectors: list[Detector] = [self.correlations]
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
    """Load rules, correlations and scenarios; errors are collected, never raised.

    ``builtin=None`` means: the built-in library when neither rules nor scenarios are
    given.
    """
    rule_dirs, scenario_dirs = list(rule_paths), list(scenario_paths)
    if builtin or (builtin is None and not rule_dirs and not scenario_dirs):
        lib_rules, lib_scenarios = builtin_library()
        rule_dirs += lib_rules
        scenario_dirs += lib_scenarios
    errors: list[KizukiError] = []
    ruleset = load_ruleset(rule_dirs) if rule_dirs else None
    rules: list[CompiledRule] = list(ruleset.rules) if ruleset else []
    correlations = list(ruleset.correlations) if ruleset else []
    if ruleset:
        errors.extend(ruleset.errors)
    scenarios: list[Scenario] = []
    if scenario_dirs:
        loaded = load_scenarios(scenario_dirs)
        scenarios = loaded.scenarios
        errors.extend(loaded.errors)
        known = {r.id for r in rules if r.id}
        # A rule shipped beside a scenario and also given with --rules is loaded once.
        rules.extend(r for r in loaded.rules if not r.id or r.id not in known)
    context = Context.load(context_dir) if context_dir else Context()
    correlation = CorrelationDetector(correlations, rules)
    errors.extend(correlation.errors)
    # A hunt asks risk for what no single detection says: two distinct rules at least.
    return Detection(rules, scenarios, correlation, context, errors, min_rule_level,
                     RiskSettings(min_sources=2) if risk else None)


@dataclass
class HuntResult:
    """Alerts (in the order decided) with the read statistics."""

    alerts: list[Alert]
    files: list[FileStats]
    events_seen: int
    events_matched: int
    late_events: int


def hunt(
    paths: Sequence[str | os.PathLike[str]],
    detection: Detection,
    *,
    settings: SourceSettings | None = None,
    sink: Callable[[ParseWarning], None] | None = None,
    jobs: int = 1,
    on_event: Callable[[Event], None] | None = None,
    fmt: str | None = None,
) -> HuntResult:
    """Run the detection over files and folders.

    ``jobs > 1`` parses and matches in worker processes (same alerts). ``on_event`` sees
    every event (for a timeline); it needs ``jobs == 1``.
    """
    index = detection.index
    engine = detection.engine(index=index)
    if jobs > 1 and on_event is None and fmt is None:
        scan = ParallelScan(index, settings, jobs)
        engine.feed_matched(scan.matches(paths))
        alerts = engine.close()
        for warning in scan.warnings:
            if sink is not None:
                sink(warning)
        return HuntResult(alerts, scan.stats, scan.seen, engine.events_matched,
                          engine.late_events)
    reader = Reader(settings, sink=sink, fmt=fmt)

    def events() -> Iterable[Event]:
        for event in reader.read(paths):
            if on_event is not None:
                on_event(event)
            yield event

    alerts = engine.run(events())
    return HuntResult(alerts, reader.stats.files, engine.events_seen, engine.events_matched,
                      engine.late_events)


def hunt_events(events: Iterable[Event], detection: Detection) -> HuntResult:
    """Run the detection over an event stream (the vault's history, a live feed)."""
    engine = detection.engine()
    alerts = engine.run(events)
    return HuntResult(alerts, [], engine.events_seen, engine.events_matched,
                      engine.late_events)
