"""``kizuki coverage``: which rules and scenario stages can see anything, given the logs
an organisation actually collects (issue 4 item 5; monitoring designed from the
scenarios, R15).

Collected log sources are given by name (``windows:security``, ``windows:sysmon``,
``linux:auth``, ``zeek:conn``; a Sigma category such as ``process_creation`` or
``firewall``, optionally with a product, ``windows:process_creation``; a bare product,
``zeek``, means all of its services) or inferred from a folder of logs (the logsource
and event id of every event read). A Windows category is fed by the event types the
pipeline binds to it (``process_creation``: Sysmon 1 or Security 4688), so collecting
``windows:security`` feeds it, while a folder of Security logs without any 4688 does not.

A scenario stage works when one of its rules (or correlations, through their rules)
is fed; a scenario whose required stage is blind cannot fire, and a blind *absent*
stage would always look absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kizuki.assess.library import Library, reads, requirement
from kizuki.errors import ConfigError
from kizuki.rules import CompiledRule, Pipeline, RuleIndex
from kizuki.rules.scenario import Scenario
from kizuki.sources import Reader, SourceSettings

#: Sigma categories recognised in ``--sources`` besides those of the loaded rules.
KNOWN_CATEGORIES = frozenset({
    "antivirus", "application", "database", "dns", "file_access", "firewall", "proxy",
    "webserver", "network_connection", "process_creation",
})


@dataclass(frozen=True, slots=True)
class Source:
    """A collected kind of log.

    Named (``exact=False``): ``None`` parts are open and ``event_ids=None`` means every
    id. Observed in real logs (``exact=True``): the parts are what the events carried,
    so a missing service is unknown rather than "any".
    """

    name: str
    product: str | None = None
    service: str | None = None
    category: str | None = None
    event_ids: frozenset[int] | None = None
    exact: bool = False

    def feeds(self, rule: CompiledRule) -> bool:
        """Whether events of this source can reach ``rule`` (its logsource covers them)."""
        ls = rule.logsource
        if self.exact:
            ids: tuple[int | None, ...] = tuple(sorted(self.event_ids)) if self.event_ids \
                else (None,)
            return any(reads(rule, (self.product, self.service, self.category, i))
                       for i in ids)
        if self.product is None:
            # A category alone (``firewall``): whatever product writes it.
            return ls.category is not None and ls.category == self.category and \
                ls.service is None
        if self.service is None and self.category is None:
            # A whole product: its own rules, not product-less categories (webserver).
            return ls.product == self.product
        if ls.product is not None and ls.product != self.product:
            return False
        if ls.service is not None and ls.service != self.service:
            return False
        if ls.category is None or ls.category == self.category:
            return True
        if self.product != "windows" or self.service is None:
            return False
        pipeline = rule.pipeline or Pipeline.default()
        return any(b.service == self.service and
                   (self.event_ids is None or bool(b.event_ids & self.event_ids))
                   for b in pipeline.bindings(ls.category))


def parse_sources(text: Iterable[str], categories: Iterable[str] = ()) -> list[Source]:
    """``windows:security,zeek:conn,process_creation`` (comma-separated, repeatable)."""
    known = KNOWN_CATEGORIES | set(categories)
    out: list[Source] = []
    for chunk in text:
        for raw in chunk.split(","):
            name = raw.strip().lower().replace("/", ":")
            if not name:
                continue
            parts = [p.strip() or None for p in name.split(":")]
            if len(parts) > 3:
                raise ConfigError(f"log source {raw.strip()!r}: use product:service or a "
                                  f"category name")
            if len(parts) == 1:
                p0 = parts[0]
                out.append(Source(name, category=p0) if p0 in known else
                           Source(name, product=p0))
            elif len(parts) == 2:
                product, second = parts
                if second in known:
                    out.append(Source(name, product=product, category=second))
                else:
                    out.append(Source(name, product=product, service=second))
            else:
                out.append(Source(name, parts[0], parts[1], parts[2]))
    return out


def sources_from(paths: Sequence[str | Path], settings: SourceSettings | None = None
                 ) -> list[Source]:
    """The log sources a folder of logs holds (logsource and event ids of its events)."""
    key_of = RuleIndex([]).key_of
    ids: dict[tuple[str | None, str | None, str | None], set[int] | None] = {}
    for event in Reader(settings).read(list(paths)):
        product, service, category, eid = key_of(event)
        k = (product, service, category)
        if k not in ids:
            ids[k] = set()
        found = ids[k]
        if eid is None:
            ids[k] = None
        elif found is not None:
            found.add(eid)
    out = []
    for (product, service, category), eids in sorted(ids.items(), key=lambda kv: str(kv[0])):
        name = ":".join(p for p in (product, service, category) if p) or "(no logsource)"
        if eids:
            name += " " + ",".join(str(i) for i in sorted(eids)[:8]) + \
                ("…" if len(eids) > 8 else "")
        out.append(Source(name, product, service, category,
                          frozenset(eids) if eids is not None else None, exact=True))
    return out


@dataclass
class StageCoverage:
    """One scenario stage: whether any of its rules is fed, and what it needs if not."""

    name: str
    absent: bool
    works: bool
    fed_by: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.works:
            return ""
        parts = []
        if self.needs:
            parts.append(f"needs {' or '.join(self.needs)}: not collected")
        if self.unresolved:
            parts.append(f"rule(s) not loaded: {', '.join(self.unresolved)}")
        if self.absent:
            parts.append("an absent stage that cannot see would always look absent")
        return "; ".join(parts)


@dataclass
class ScenarioCoverage:
    id: str
    title: str
    stages: list[StageCoverage]

    @property
    def works(self) -> bool:
        return all(s.works for s in self.stages)

    @property
    def blind(self) -> list[StageCoverage]:
        return [s for s in self.stages if not s.works]


@dataclass
class RequirementCoverage:
    """The rules that need one kind of log, and whether it is collected."""

    requirement: str
    works: bool
    rules: list[str]
    fed_by: list[str]


@dataclass
class Coverage:
    sources: list[Source]
    scenarios: list[ScenarioCoverage]
    requirements: list[RequirementCoverage]

    @property
    def rules_total(self) -> int:
        return sum(len(r.rules) for r in self.requirements)

    @property
    def rules_working(self) -> int:
        return sum(len(r.rules) for r in self.requirements if r.works)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": [s.name for s in self.sources],
            "rules": {"total": self.rules_total, "working": self.rules_working},
            "scenarios": [{
                "id": s.id, "title": s.title, "works": s.works,
                "stages": [{"name": st.name, "absent": st.absent, "works": st.works,
                            "fed_by": st.fed_by, "needs": st.needs,
                            "unresolved": st.unresolved, "reason": st.reason}
                           for st in s.stages],
            } for s in self.scenarios],
            "requirements": [{"requirement": r.requirement, "works": r.works,
                              "fed_by": r.fed_by, "rules": r.rules}
                             for r in self.requirements],
        }


def _fed(rule: CompiledRule, sources: Sequence[Source]) -> list[str]:
    return [s.name for s in sources if s.feeds(rule)]


def _correlation_rules(library: Library, ref: str, depth: int = 0) -> list[CompiledRule] | None:
    corr = library.correlation(ref)
    if corr is None or depth > 8:
        return None
    out: list[CompiledRule] = []
    for r in corr.rules or ():
        name = str(getattr(r, "reference", r))
        rule = library.resolve(name)
        if rule is not None:
            out.append(rule)
            continue
        nested = _correlation_rules(library, name, depth + 1)
        if nested is None:
            return None
        out.extend(nested)
    return out


def _natural(scenario: Scenario) -> list[str | int]:
    """S2 before S10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", scenario.id)]


def coverage(library: Library, sources: Sequence[Source]) -> Coverage:
    """Which rules and scenario stages the collected ``sources`` feed."""
    scenarios = []
    for scen in sorted(library.scenarios, key=_natural):
        stages = []
        for st in scen.stages:
            sc = StageCoverage(st.name, st.absent, False)
            for ref in st.rules:
                rule = library.resolve(ref)
                group = [rule] if rule is not None else _correlation_rules(library, ref)
                if group is None:
                    sc.unresolved.append(ref)
                    continue
                fed = [_fed(r, sources) for r in group]
                if group and all(fed):
                    sc.works = True
                    sc.fed_by.extend(n for f in fed for n in f if n not in sc.fed_by)
                for r in group:
                    need = requirement(r)
                    if need not in sc.needs:
                        sc.needs.append(need)
            stages.append(sc)
        scenarios.append(ScenarioCoverage(scen.id, scen.title, stages))
    groups: dict[str, RequirementCoverage] = {}
    for rule in library.rules:
        need = requirement(rule)
        g = groups.get(need)
        if g is None:
            names = _fed(rule, sources)
            g = groups[need] = RequirementCoverage(need, bool(names), [], names)
        g.rules.append(rule.title)
    reqs = sorted(groups.values(), key=lambda g: (not g.works, -len(g.rules), g.requirement))
    return Coverage(list(sources), scenarios, reqs)


__all__ = [
    "KNOWN_CATEGORIES", "Coverage", "RequirementCoverage", "ScenarioCoverage", "Source",
    "StageCoverage", "coverage", "parse_sources", "sources_from",
]
