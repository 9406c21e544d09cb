"""The rules and scenarios that ``kizuki eval`` and ``kizuki coverage`` measure.

By default the built-in library: the repository's ``rules/`` and ``scenarios/``
folders (each scenario folder carries its own Sigma rules), found relative to the
installed package. ``--rules`` / ``--scenarios`` replace it (so that, for example,
SigmaHQ's Windows rules can be measured alone); ``--builtin`` adds it back.

Also here: whether a rule *reads* a kind of event (its logsource covers it, whatever
its detection says), which both the miss reasons of ``eval`` and ``coverage`` need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule

import kizuki
from kizuki.errors import ConfigError, KizukiError
from kizuki.model.alert import attack_ids
from kizuki.rules import CompiledRule, Pipeline, load_ruleset
from kizuki.rules.scenario import Scenario, load_scenarios

#: (product, service, category, Windows event id), as ``RuleIndex.key_of`` gives.
Key = tuple[str | None, str | None, str | None, int | None]

_SERVICE_NAMES = {"sysmon": "Sysmon", "security": "Security", "powershell": "PowerShell",
                  "powershell-classic": "PowerShell classic", "system": "System"}


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
    return out


def rule_techniques(rule: CompiledRule) -> tuple[str, ...]:
    """The ATT&CK technique ids a rule's tags carry."""
    return attack_ids(rule.tags)[0]


def tag_techniques(tags: Iterable[object]) -> tuple[str, ...]:
    """The ATT&CK technique ids of any tag list (correlations, scenarios)."""
    return attack_ids([str(t) for t in tags])[0]


def reads(rule: CompiledRule, key: Key) -> bool:
    """Whether ``rule``'s logsource covers events of ``key`` (its detection aside).

    Mirrors ``CompiledRule.variant_for`` without the event ids a detection pins: a
    Windows category also covers the event types the pipeline binds to it (Security
    4688 for ``process_creation``).
    """
    product, service, category, event_id = key
    ls = rule.logsource
    if ls.product is not None and ls.product != product:
        return False
    if ls.service is not None and ls.service != service:
        return False
    if ls.category is None or ls.category == category:
        return True
    if product == "windows" and rule.pipeline is not None:
        return rule.pipeline.binding_for(ls.category, service, event_id) is not None
    return False


def describe_key(key: Key) -> str:
    """``windows/security 4624``, ``zeek/conn``: a kind of event, for people."""
    product, service, category, event_id = key
    text = "/".join(p for p in (product, service or category) if p) or "(no logsource)"
    return f"{text} {event_id}" if event_id is not None else text


def requirement(rule: CompiledRule) -> str:
    """What a rule needs collected: ``windows/process_creation (Sysmon 1 or Security 4688)``."""
    ls = rule.logsource
    text = "/".join(p for p in (ls.product, ls.service, ls.category) if p) or "any log"
    if ls.product == "windows" and ls.category:
        pipeline = rule.pipeline or Pipeline.default()
        bindings = pipeline.bindings(ls.category)
        if bindings:
            alts = " or ".join(
                f"{_SERVICE_NAMES.get(b.service, b.service)} "
                f"{','.join(str(i) for i in sorted(b.event_ids))}" for b in bindings)
            text += f" ({alts})"
    return text


__all__ = [
    "Key", "Library", "builtin_paths", "describe_key", "load_library", "reads", "repo_root",
    "requirement", "rule_techniques", "tag_techniques",
]
