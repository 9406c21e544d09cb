"""``kizuki eval``: what the rules and scenarios detect on labelled attack data (issue 4).

Every labelled file under the given folders is read and matched on its own, with a
fresh engine (rules, Sigma correlations, scenarios), so each alert belongs to one
file. A file labelled with technique *T* counts *T* as detected when an alert carrying
*T*, its parent or one of its sub-techniques fires on it
(:func:`~kizuki.assess.labels.technique_covers`). The technique-level detection rate
is the share of labelled techniques detected on at least one of their files.

Every miss gets a reason:

- ``no log source``: the file held no events, or none of a logsource any rule reads;
- ``no rule yet``: no rule, correlation or scenario carries the technique;
- ``rule too narrow``: some do, but none fired on the file (the detail says whether
  they read the file's kinds of event at all).

Files labelled ``benign-background`` list every high or critical alert, with the
explanation a person gave (:class:`Explanations`, a small YAML keyed by file and rule).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from kizuki import yamlio
from kizuki.assess.labels import Label, Labels, technique_covers
from kizuki.assess.library import (
    Key,
    Library,
    describe_key,
    reads,
    rule_techniques,
    tag_techniques,
)
from kizuki.assess.scan import FileScan, scan_files
from kizuki.detect import Detector, Engine, EngineSettings
from kizuki.detect.correlation import CorrelationDetector
from kizuki.detect.scenario import ScenarioDetector
from kizuki.errors import ConfigError
from kizuki.model import Alert, AlertKind
from kizuki.model.alert import SEVERITIES
from kizuki.rules import CompiledRule, RuleIndex
from kizuki.sources import SourceSettings

#: Severities a benign file's alerts must be explained at.
EXPLAIN_SEVERITIES = ("high", "critical")


class MissReason(StrEnum):
    """Why a labelled technique was not detected on a file."""

    no_log_source = "no log source"
    no_rule = "no rule yet"
    too_narrow = "rule too narrow"


@dataclass(frozen=True, slots=True)
class Miss:
    """One missed technique on one file, and why."""

    reason: MissReason
    detail: str


@dataclass(frozen=True, slots=True)
class Carrier:
    """A rule, correlation or scenario that carries an ATT&CK technique."""

    kind: str
    ref: str
    title: str
    techniques: tuple[str, ...]
    rule: CompiledRule | None = None


@dataclass
class FileResult:
    """One labelled file: its events, its alerts, and each label technique's outcome."""

    label: Label
    events: int
    kinds: Counter[Key]
    alerts: list[Alert]
    detected: dict[str, list[str]] = field(default_factory=dict)
    misses: dict[str, Miss] = field(default_factory=dict)
    formats: tuple[str, ...] = ()
    error: str | None = None

    def severities(self) -> Counter[str]:
        return Counter(a.severity for a in self.alerts)

    def top_rules(self, n: int = 3) -> list[tuple[str, int]]:
        return Counter(a.rule_title for a in self.alerts).most_common(n)


@dataclass
class TechniqueResult:
    """One labelled technique over all its files."""

    technique: str
    files: list[str]
    detected_in: list[str]
    by: list[str]
    reason: MissReason | None = None
    detail: str = ""

    @property
    def detected(self) -> bool:
        return bool(self.detected_in)


@dataclass(frozen=True, slots=True)
class Explanation:
    """A person's word on a benign file's alert: true or false positive, and why."""

    file: str
    rule: str
    explanation: str
    verdict: str = ""

    def applies(self, label: Label, alert: Alert) -> bool:
        f = self.file.strip().replace("\\", "/")
        name = label.name.replace("\\", "/")
        file_ok = f in (name, label.path.name, str(label.path)) or name.endswith("/" + f)
        return file_ok and self.rule in (alert.rule_id, alert.rule_title)


@dataclass
class Explanations:
    """The explanations YAML: a list of ``{file, rule, verdict, explanation}`` entries
    (under ``explanations:`` or at the top level)."""

    entries: list[Explanation] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Explanations:
        p = Path(path)
        try:
            data = yamlio.safe_load(p.read_text("utf-8")) or []
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read explanations: {exc}", where=str(p)) from exc
        if isinstance(data, dict):
            data = data.get("explanations") or []
        if not isinstance(data, list):
            raise ConfigError("explanations: expected a list of {file, rule, explanation}",
                              where=str(p))
        out = cls()
        for i, item in enumerate(data):
            if not isinstance(item, dict) or not item.get("file") or not item.get("rule"):
                raise ConfigError(f"entry {i}: needs 'file' and 'rule'", where=str(p))
            out.entries.append(Explanation(str(item["file"]), str(item["rule"]),
                                           str(item.get("explanation") or ""),
                                           str(item.get("verdict") or "")))
        return out

    def find(self, label: Label, alert: Alert) -> Explanation | None:
        for e in self.entries:
            if e.applies(label, alert):
                return e
        return None


@dataclass(frozen=True, slots=True)
class BenignAlert:
    """High or critical alerts of one rule on one benign file, to be explained."""

    file: str
    rule_id: str
    rule_title: str
    severity: str
    count: int
    explanation: str = ""
    verdict: str = ""


@dataclass
class Evaluation:
    """The result of ``kizuki eval`` (rendered by :mod:`kizuki.assess.report`)."""

    files: list[FileResult]
    techniques: list[TechniqueResult]
    benign: list[BenignAlert]
    missing: list[Label]
    library: Library
    datasets: list[str]
    labels: list[str]

    @property
    def detected(self) -> int:
        return sum(1 for t in self.techniques if t.detected)

    @property
    def rate(self) -> float | None:
        """Technique-level detection rate (None when nothing is labelled)."""
        return self.detected / len(self.techniques) if self.techniques else None

    def pairs(self) -> tuple[int, int]:
        """(detected, total) over (file, technique) pairs."""
        total = sum(len(f.label.techniques) for f in self.files)
        return sum(len(f.detected) for f in self.files), total

    def groups(self) -> list[tuple[str, int, int, int]]:
        """Per data set: (set, files, techniques detected, techniques labelled)."""
        files: Counter[str] = Counter()
        labelled: dict[str, set[str]] = {}
        found: dict[str, set[str]] = {}
        for f in self.files:
            g = f.label.group
            files[g] += 1
            labelled.setdefault(g, set()).update(f.label.techniques)
            found.setdefault(g, set()).update(f.detected)
        return [(g, files[g], len(found[g]), len(labelled[g])) for g in sorted(files)]

    def reasons(self) -> Counter[str]:
        return Counter(str(t.reason) for t in self.techniques if t.reason is not None)

    def scenario_alerts(self) -> list[tuple[str, str, int, list[str]]]:
        """Per scenario that fired: (id, title, alerts, files)."""
        found: dict[str, tuple[str, int, list[str]]] = {}
        for f in self.files:
            for a in f.alerts:
                if a.kind is not AlertKind.scenario:
                    continue
                title, n, names = found.get(a.rule_id, (a.rule_title, 0, []))
                if f.label.name not in names:
                    names.append(f.label.name)
                found[a.rule_id] = (title, n + 1, names)
        return [(k, v[0], v[1], v[2]) for k, v in sorted(found.items())]


# --------------------------------------------------------------------------- evaluation
def carriers(library: Library) -> list[Carrier]:
    """Everything in the library that carries ATT&CK techniques."""
    out: list[Carrier] = []
    for rule in library.rules:
        techs = rule_techniques(rule)
        if techs:
            out.append(Carrier("rule", rule.id or rule.title, rule.title, techs, rule))
    for corr in library.correlations:
        techs = tag_techniques(corr.tags)
        if techs:
            out.append(Carrier("correlation", str(corr.id or corr.name or corr.title),
                               str(corr.title), techs))
    for scen in library.scenarios:
        techs = tag_techniques(scen.tags)
        if techs:
            out.append(Carrier("scenario", scen.id, scen.title, techs))
    return out


def _detectors(library: Library) -> tuple[list[Detector], EngineSettings]:
    detectors: list[Detector] = []
    silent: frozenset[str] = frozenset()
    if library.correlations:
        corr = CorrelationDetector(library.correlations, library.rules)
        silent = corr.silent_rules()
        detectors.append(corr)
    if library.scenarios:
        detectors.append(ScenarioDetector(library.scenarios))
    return detectors, EngineSettings(silent_rules=silent)


class _Reading:
    """Which kinds of event some rule reads, decided once per kind."""

    def __init__(self, index: RuleIndex) -> None:
        self.rules = index.rules
        self._known: dict[Key, bool] = {}

    def any_rule(self, key: Key) -> bool:
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = any(reads(r, key) for r in self.rules)
        return found


def _classify(technique: str, scan: FileScan, reading: _Reading,
              carried: Sequence[Carrier]) -> Miss:
    if scan.error and not scan.seen:
        return Miss(MissReason.no_log_source, f"file could not be read ({scan.error})")
    if not scan.seen:
        return Miss(MissReason.no_log_source, "no events read from the file")
    kinds = sorted(scan.kinds, key=lambda k: (-scan.kinds[k], describe_key(k)))
    shown = ", ".join(describe_key(k) for k in kinds[:4]) + (" …" if len(kinds) > 4 else "")
    if not any(reading.any_rule(k) for k in kinds):
        return Miss(MissReason.no_log_source, f"no rule reads its events ({shown})")
    mine = [c for c in carried if any(technique_covers(technique, t) for t in c.techniques)]
    if not mine:
        return Miss(MissReason.no_rule, f"no rule or scenario carries {technique}")
    matched = {id(reading.rules[i]) for _, pos in scan.matches for i in pos}
    quiet = [c for c in mine if c.rule is not None and id(c.rule) in matched]
    if quiet:
        names = "; ".join(f"{c.title} ({c.rule.level if c.rule else ''})" for c in quiet[:3])
        return Miss(MissReason.too_narrow,
                    f"matched but raised no alert of its own (level below low, or a "
                    f"correlation/scenario signal): {names}")
    readers = [c for c in mine if c.rule is None or any(reads(c.rule, k) for k in kinds)]
    names = "; ".join(c.title for c in readers[:3]) + (" …" if len(readers) > 3 else "")
    if readers:
        return Miss(MissReason.too_narrow,
                    f"{len(mine)} carry {technique}; {len(readers)} read these events "
                    f"({names}) but did not fire")
    return Miss(MissReason.too_narrow,
                f"{len(mine)} carry {technique}, none reads this file's events ({shown})")


def _file_result(label: Label, scan: FileScan, alerts: list[Alert], reading: _Reading,
                 carried: Sequence[Carrier]) -> FileResult:
    result = FileResult(label, scan.seen, scan.kinds, alerts, formats=scan.formats,
                        error=scan.error)
    for t in sorted(label.techniques):
        by = sorted({a.rule_title for a in alerts
                     if any(technique_covers(t, x) for x in a.attack)})
        if by:
            result.detected[t] = by
        else:
            result.misses[t] = _classify(t, scan, reading, carried)
    return result


def _techniques(files: Sequence[FileResult], carried: Sequence[Carrier]
                ) -> list[TechniqueResult]:
    by_tech: dict[str, TechniqueResult] = {}
    for f in files:
        for t in sorted(f.label.techniques):
            tr = by_tech.setdefault(t, TechniqueResult(t, [], [], []))
            tr.files.append(f.label.name)
            if t in f.detected:
                tr.detected_in.append(f.label.name)
                tr.by.extend(x for x in f.detected[t] if x not in tr.by)
    for tr in by_tech.values():
        if tr.detected:
            continue
        misses = [f.misses[tr.technique] for f in files if tr.technique in f.misses]
        reasons = {m.reason for m in misses}
        if reasons == {MissReason.no_log_source}:
            tr.reason = MissReason.no_log_source
        elif not any(any(technique_covers(tr.technique, t) for t in c.techniques)
                     for c in carried):
            tr.reason = MissReason.no_rule
        else:
            tr.reason = MissReason.too_narrow
        tr.detail = next((m.detail for m in misses if m.reason is tr.reason), "")
    return [by_tech[t] for t in sorted(by_tech)]


def _benign(files: Sequence[FileResult], explanations: Explanations) -> list[BenignAlert]:
    out: list[BenignAlert] = []
    for f in files:
        if not f.label.benign:
            continue
        groups: dict[str, list[Alert]] = {}
        for a in f.alerts:
            if a.severity in EXPLAIN_SEVERITIES:
                groups.setdefault(a.rule_id, []).append(a)
        for rule_id, alerts in sorted(groups.items()):
            first = alerts[0]
            worst = max((a.severity for a in alerts), key=SEVERITIES.index)
            found = explanations.find(f.label, first)
            out.append(BenignAlert(f.label.name, rule_id, first.rule_title, worst, len(alerts),
                                   found.explanation if found else "",
                                   found.verdict if found else ""))
    return out


def evaluate(datasets: Sequence[str | Path], labels: Labels, library: Library, *,
             jobs: int | None = None, explanations: Explanations | None = None,
             settings: SourceSettings | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> Evaluation:
    """Run ``library`` over every labelled file under ``datasets`` (see the module doc)."""
    chosen = labels.under(datasets)
    present = [lb for lb in chosen if lb.path.is_file()]
    missing = [lb for lb in chosen if not lb.path.is_file()]
    index = RuleIndex(library.rules)
    carried = carriers(library)
    reading = _Reading(index)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    files: list[FileResult] = []
    scans = scan_files(index, [str(lb.path) for lb in present], settings, jobs)
    for n, (label, scan) in enumerate(zip(present, scans, strict=True), 1):
        detectors, engine_settings = _detectors(library)
        engine = Engine(index, detectors, engine_settings)
        rules = index.rules
        alerts = engine.feed_matched(((e, [rules[i] for i in pos]) for e, pos in scan.matches),
                                     seen=scan.seen)
        alerts.extend(engine.close())
        files.append(_file_result(label, scan, alerts, reading, carried))
        if progress is not None:
            progress(n, len(present), label.name)
    return Evaluation(
        files=files,
        techniques=_techniques(files, carried),
        benign=_benign(files, explanations or Explanations()),
        missing=missing,
        library=library,
        datasets=[str(d) for d in datasets],
        labels=list(labels.sources),
    )


def to_dict(ev: Evaluation) -> dict[str, Any]:
    """A JSON-ready summary (the Markdown and HTML reports show the same)."""
    detected, total = ev.pairs()
    return {
        "rate": ev.rate,
        "techniques_detected": ev.detected,
        "techniques_labelled": len(ev.techniques),
        "pairs_detected": detected,
        "pairs_labelled": total,
        "groups": [{"set": g, "files": n, "detected": d, "labelled": t}
                   for g, n, d, t in ev.groups()],
        "techniques": [{"technique": t.technique, "detected": t.detected, "files": t.files,
                        "detected_in": t.detected_in, "by": t.by,
                        "reason": str(t.reason) if t.reason else None, "detail": t.detail}
                       for t in ev.techniques],
        "files": [{"file": f.label.name, "set": f.label.group, "events": f.events,
                   "techniques": sorted(f.label.techniques), "notes": list(f.label.notes),
                   "alerts": len(f.alerts), "severities": dict(f.severities()),
                   "detected": f.detected,
                   "misses": {t: {"reason": str(m.reason), "detail": m.detail}
                              for t, m in f.misses.items()},
                   "error": f.error} for f in ev.files],
        "benign": [_benign_dict(b) for b in ev.benign],
        "missing": [lb.name for lb in ev.missing],
    }


def _benign_dict(b: BenignAlert) -> dict[str, Any]:
    return {"file": b.file, "rule_id": b.rule_id, "rule_title": b.rule_title,
            "severity": b.severity, "count": b.count, "verdict": b.verdict,
            "explanation": b.explanation}


__all__ = [
    "BenignAlert", "Carrier", "Evaluation", "Explanation", "Explanations", "FileResult",
    "Miss", "MissReason", "TechniqueResult", "carriers", "evaluate", "to_dict",
]
