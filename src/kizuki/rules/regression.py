"""Check SigmaHQ's regression samples: each EVTX sample must trigger the rule its
``info.yml`` names (issue 3, "done when"). Run ``python -m kizuki.rules.regression
[SIGMA_DIR]`` for a report listing every sample that does not, with why.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kizuki import yamlio
from kizuki.model import Event
from kizuki.rules.compile import CompiledRule, detection_predicates, event_id_of
from kizuki.rules.index import RuleIndex
from kizuki.rules.sigma import RuleSet, load_ruleset
from kizuki.sources import Reader

#: The rule folders of a SigmaHQ checkout that the regression data covers.
RULE_DIRS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder")


@dataclass
class SampleResult:
    """One regression sample: the rule it names, what matched, and why not if not."""

    info: Path
    evtx: Path
    rule_id: str
    title: str
    expected: int
    events: int = 0
    matched: int = 0
    others: dict[str, int] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)

    @property
    def triggered(self) -> bool:
        """The named rule matched at least one event of the sample."""
        return self.matched > 0


def _why_not(rule: CompiledRule, events: Sequence[Event]) -> list[str]:
    """Per event: whether the logsource fits, and which detections matched."""
    out = []
    for ev in events[:5]:
        ls = ev.logsource
        eid = event_id_of(ev)
        rec = ev.original.get("EventRecordID", ev.origin.offset)
        where = f"record {rec} ({ls.product}/{ls.service}/{ls.category} {eid})"
        if rule.predicate_for(ls.product, ls.service, ls.category, eid) is None:
            out.append(f"{where}: not of the rule's logsource {rule.logsource} / ids "
                       f"{sorted(rule.event_ids) if rule.event_ids else 'any'}")
            continue
        if rule.sigma is None or rule.pipeline is None:
            continue
        dets = detection_predicates(rule.sigma, rule.pipeline, rule.logsource)
        parts = ", ".join(f"{n}={p(ev)}" for n, p in dets.items())
        conds = " | ".join(rule.sigma.detection.condition)
        out.append(f"{where}: {parts} (condition: {conds})")
    return out


def run_regression(sigma_dir: Path, ruleset: RuleSet | None = None) -> list[SampleResult]:
    """Run every regression sample under ``sigma_dir/regression_data``."""
    rs = ruleset or load_ruleset([sigma_dir / d for d in RULE_DIRS if (sigma_dir / d).is_dir()])
    by_id = rs.by_id()
    errors = {e.rule_id: e for e in rs.errors if e.rule_id}
    index = RuleIndex(rs.rules)
    results: list[SampleResult] = []
    for info in sorted((sigma_dir / "regression_data").rglob("info.yml")):
        meta = yamlio.safe_load(info.read_text("utf-8")) or {}
        rule_meta = (meta.get("rule_metadata") or [{}])[0]
        for test in meta.get("regression_tests_info") or []:
            if test.get("type") != "evtx":
                continue
            res = SampleResult(
                info=info,
                evtx=info.parent / Path(str(test["path"])).name,
                rule_id=str(rule_meta.get("id")),
                title=str(rule_meta.get("title")),
                expected=int(test.get("match_count", 1)),
            )
            results.append(res)
            rule = by_id.get(res.rule_id)
            if rule is None:
                err = errors.get(res.rule_id)
                res.why.append(f"rule not loaded: {err}" if err else "rule not found")
                continue
            events = list(Reader().read([res.evtx]))
            res.events = len(events)
            if not events:
                res.why.append("no events read from the sample")
                continue
            hits: list[Event] = []
            for r, ev in index.match_all(events):
                if r is rule:
                    hits.append(ev)
                else:
                    res.others[r.id or r.title] = res.others.get(r.id or r.title, 0) + 1
            res.matched = len(hits)
            if not hits:
                res.why.extend(_why_not(rule, events))
            elif res.matched != res.expected:
                ids = ", ".join(str(e.original.get("EventRecordID", e.origin.offset)) for e in hits)
                res.why.append(
                    f"match_count {res.expected} in info.yml, but {res.matched} events "
                    f"satisfy the rule (EventRecordID {ids})"
                )
    return results


def report(results: Sequence[SampleResult]) -> str:
    """A plain-text report: totals, then each sample that did not trigger or count."""
    lines = []
    bad = [r for r in results if not r.triggered]
    counts = [r for r in results if r.triggered and r.matched != r.expected]
    lines.append(
        f"{len(results)} regression samples: {len(results) - len(bad)} trigger their rule, "
        f"{len(bad)} do not; {len(counts)} trigger with another count than info.yml says"
    )
    for r in [*bad, *counts]:
        state = "NOT TRIGGERED" if not r.triggered else "COUNT"
        lines.append(f"- {state} {r.title} ({r.rule_id}) {r.evtx}")
        lines.extend(f"    {w}" for w in r.why)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the regression report for a SigmaHQ checkout; exit 1 if any fails."""
    args = list(sys.argv[1:] if argv is None else argv)
    sigma_dir = Path(args[0]) if args else Path("../shared/data/sigma")
    results = run_regression(sigma_dir)
    print(report(results))
    return 0 if all(r.triggered for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
