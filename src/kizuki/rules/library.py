"""The rule library: rules, Sigma correlations and scenarios loaded from folders.

One loader for every command that detects (``kizuki hunt``, ``kizuki eval``,
``kizuki coverage``, the live service), so they all mean the same thing by "the built-in
library": the repository's ``rules/`` and ``scenarios/`` (issue 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule

import kizuki
from kizuki.errors import ConfigError, KizukiError
from kizuki.rules.compile import CompiledRule
from kizuki.rules.scenario import Scenario, load_scenarios
from kizuki.rules.sigma import load_ruleset


def repo_root() -> Path:
    """The checkout the package runs from (``src/kizuki`` → two levels up)."""
    return Path(kizuki.__file__).resolve().parents[2]


def builtin_paths() -> tuple[list[Path], list[Path]]:
    """(rule folders, scenario folders) of the built-in library; error if absent."""
    root = repo_root()
    rules = [p for p in (root / "rules",) if p.is_dir()]
    scenarios = [p for p in (root / "scenarios",) if p.is_dir()]
    if not rules and not scenarios:
        raise ConfigError(
            f"the built-in rule library (rules/ and scenarios/) is not beside the installed "
            f"package (looked in {root}); pass --rules DIR and/or --scenarios DIR")
    return rules, scenarios


@dataclass
class Library:
    """Loaded rules, correlations and scenarios, with every load error kept."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)
    errors: list[KizukiError] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def resolve(self, ref: str) -> CompiledRule | None:
        """The rule a scenario stage or correlation names (by id, name or title)."""
        for rule in self.rules:
            if ref in (rule.id, rule.name, rule.title):
                return rule
        return None

    def correlation(self, ref: str) -> SigmaCorrelationRule | None:
        for corr in self.correlations:
            if ref in (str(corr.id) if corr.id else None, corr.name, corr.title):
                return corr
        return None


def load_library(rules: Sequence[str | Path] = (), scenarios: Sequence[str | Path] = (),
                 *, builtin: bool | None = None) -> Library:
    """Load rule and scenario paths; the built-in library when none is given.

    ``builtin=None`` means "only when neither ``rules`` nor ``scenarios`` is given".
    A rule id loaded twice (a folder given twice) is kept once.
    """
    rule_paths = [Path(p) for p in rules]
    scenario_paths = [Path(p) for p in scenarios]
    if builtin is None:
        builtin = not rule_paths and not scenario_paths
    if builtin:
        b_rules, b_scenarios = builtin_paths()
        rule_paths = [*b_rules, *rule_paths]
        scenario_paths = [*b_scenarios, *scenario_paths]
    for p in (*rule_paths, *scenario_paths):
        if not p.exists():
            raise ConfigError("rule or scenario path not found", where=str(p))
    out = Library(paths=[str(p) for p in (*rule_paths, *scenario_paths)])
    seen: set[str] = set()

    def keep(found: Iterable[CompiledRule]) -> None:
        for rule in found:
            key = rule.id or f"{rule.path}:{rule.title}"
            if key not in seen:
                seen.add(key)
                out.rules.append(rule)

    if rule_paths:
        loaded = load_ruleset(rule_paths)
        keep(loaded.rules)
        out.correlations.extend(loaded.correlations)
        out.errors.extend(loaded.errors)
    if scenario_paths:
        sset = load_scenarios(scenario_paths)
        keep(sset.rules)
        out.scenarios.extend(sset.scenarios)
        out.errors.extend(sset.errors)
        out.correlations.extend(sset.correlations)
        by_id = {s.id: s for s in sset.scenarios}
        for sid, stage, ref in sset.unresolved(out.rules, out.correlations):
            # A stage that names no loaded rule can never advance: say so instead of
            # staying silent (e.g. one scenario folder given without scenarios/common).
            out.errors.append(ConfigError(
                f"scenario {sid} stage {stage!r} references {ref!r}, which no loaded rule "
                "or correlation answers to (its id, name or title); load the folder that "
                "defines it (the library's shared blocks are in scenarios/common)",
                where=by_id[sid].path if sid in by_id else None))
    return out
