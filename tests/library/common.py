"""What the tests of Kizuki's own rule ranges (t10xx, t11xx–t14xx, t15xx) share (issue 4).

Each range is checked the same way: its rule files are well formed, its data-file cases
(positive events and near-miss decoys) match exactly the expected rules, and on the
labelled public EVTX sets it still detects the techniques of its range while staying
quiet on the benign evtx-rs-samples. The modules keep their own thresholds and say how
their rules run (plain rules, or rules with correlations).
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kizuki.detect.engine import Engine
from kizuki.model import Alert, Event, LogSource, Origin
from kizuki.rules import RuleIndex, RuleSet, load_ruleset
from kizuki.sources import Reader, SourceSettings
from kizuki.sources.windows import normalize

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "data"
LABELLED_SETS = ("evtx-to-mitre-attack", "evtx-attack-samples", "hayabusa-sample-evtx",
                 "sigma/regression_data")
TIME = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
WEB = LogSource(category="webserver")
_TECHNIQUE = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")
_LEVELS = ("low", "medium", "high", "critical")

#: How a test module runs its rules over events: the alerts, as `kizuki eval` gives them.
Run = Callable[[Sequence[Event]], list[Alert]]


def rules_alone(index: RuleIndex) -> Run:
    """Run the rules of ``index`` alone, a fresh engine per stream."""
    return lambda events: Engine(index).run(events)


def load_library(*folders: Path) -> RuleSet:
    """The compiled rules of ``folders`` (loading must not report any error)."""
    ruleset = load_ruleset(list(folders))
    assert ruleset.errors == []
    return ruleset


# -- rule files ------------------------------------------------------------------------

def rule_documents(*folders: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every YAML document of the rule files of ``folders``, with its file."""
    return [(path, doc) for folder in folders for path in sorted(folder.glob("*.yml"))
            for doc in yaml.safe_load_all(path.read_text("utf-8"))]


def check_rule_documents(docs: Sequence[tuple[Path, dict[str, Any]]], techniques: range,
                         *, building_blocks: bool = False) -> None:
    """Each rule has a unique v4 id and name, Kizuki's status and author, a description,
    false positives and an ATT&CK technique tag of the range ``techniques`` (its first);
    each file holds one such rule, named after the file.

    With ``building_blocks``, a file may also hold informational rules that only feed a
    correlation of the same file: they carry no tags and are not correlations.
    """
    ids: set[str] = set()
    names: set[str] = set()
    headline: dict[Path, list[dict[str, Any]]] = {}
    for path, doc in docs:
        where = f"{path.name}:{doc.get('name')}"
        assert uuid.UUID(doc["id"]).version == 4, where
        assert doc["id"] not in ids, where
        ids.add(doc["id"])
        assert doc["name"].startswith("kizuki_") and doc["name"] not in names, where
        names.add(doc["name"])
        assert doc["status"] == "experimental" and doc["author"] == "Kizuki", where
        assert doc["description"].strip(), where
        if building_blocks and doc["level"] == "informational":
            assert "correlation" not in doc and "tags" not in doc, where
            continue
        headline.setdefault(path, []).append(doc)
        assert doc["level"] in _LEVELS, where
        assert doc["falsepositives"], where
        tags = [t for t in doc["tags"] if _TECHNIQUE.match(t)]
        assert tags, f"{where}: no ATT&CK technique tag"
        # The first technique tag is the rule's own, and it is in this library's range.
        assert int(tags[0][8:12]) in techniques, where
    for path, rules in headline.items():
        assert [d["name"] for d in rules] == ["kizuki_" + path.stem], path.name


# -- data-file cases -------------------------------------------------------------------

def case_params(folder: Path) -> list[Any]:
    """The events of the case files in ``folder``: (spec, kind) per event, with its id.

    A file's ``kind`` (default ``windows``) says how its events are made: see
    :func:`case_event`.
    """
    params = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        params += [pytest.param(spec, doc.get("kind", "windows"),
                                id=f"{path.stem}::{spec['name']}") for spec in doc["events"]]
    return params


def case_rule_names(folder: Path) -> set[str]:
    """Every rule name the cases of ``folder`` expect."""
    return {n for p in case_params(folder) for n in p.values[0]["expect"]}


def case_event(spec: dict[str, Any], kind: str = "windows") -> Event:
    """A case's event shaped as the readers make it (real logsource, ECS fields): a
    Windows record normalized as the EVTX reader does, or a web access line."""
    original = dict(spec["original"])
    origin = Origin(path=f"case:{spec['name']}")
    if kind == "web":
        return Event(timestamp=TIME, data_type="web:access:line", fields={},
                     original=original, logsource=WEB, origin=origin)
    fields, logsource = normalize(original)
    return Event(timestamp=TIME, data_type="windows:evtx:record", fields=fields,
                 original=original, logsource=logsource, origin=origin)


def matched_names(index: RuleIndex, event: Event, *, building_blocks: bool = False
                  ) -> list[str]:
    """The sorted names of the rules ``event`` matches; with ``building_blocks``, the
    informational rules (they only feed correlations) are left out."""
    return sorted(rule.name or rule.title for rule in index.match(event)
                  if not (building_blocks and rule.level == "informational"))


# -- shared data -----------------------------------------------------------------------

def labelled_files(shared: Path, techniques: range) -> dict[str, list[str]]:
    """Technique -> labelled EVTX files, for the techniques of the range."""
    out: dict[str, list[str]] = {}
    with (shared / "MANIFEST.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["path"].startswith(LABELLED_SETS):
                continue
            for tech in filter(None, row["techniques"].split(";")):
                if int(tech[1:5]) in techniques:
                    out.setdefault(tech, []).append(row["path"])
    return out


def missed_techniques(shared: Path, labelled: dict[str, list[str]], run: Run, *,
                      subtechniques: bool = False) -> list[str]:
    """The labelled techniques no alert of ``run`` names on any of their files.

    A technique counts as found when an alert names it or its parent; with
    ``subtechniques`` also one of its sub-techniques, as `kizuki eval` does.
    """
    fired: dict[str, set[str]] = {}
    missed = []
    for tech, files in sorted(labelled.items()):
        parent = tech.split(".")[0]
        for f in files:
            if f not in fired:
                events = list(Reader(SourceSettings()).read([shared / f]))
                fired[f] = {t.upper() for a in run(events) for t in a.attack}
            if {tech, parent} & fired[f] or (
                    subtechniques and any(t.startswith(tech + ".") for t in fired[f])):
                break
        else:
            missed.append(tech)
    return missed


def check_coverage(shared: Path, techniques: range, run: Run, *, min_labelled: int,
                   min_rate: float, subtechniques: bool = False) -> None:
    """At least ``min_labelled`` labelled techniques of the range, and ``run`` finds at
    least ``min_rate`` of them."""
    labelled = labelled_files(shared, techniques)
    assert len(labelled) >= min_labelled
    missed = missed_techniques(shared, labelled, run, subtechniques=subtechniques)
    rate = 1 - len(missed) / len(labelled)
    assert rate >= min_rate, f"coverage {rate:.1%}, missed {missed}"


def check_quiet_on_benign_samples(shared: Path, run: Run, max_high: int) -> None:
    """At most ``max_high`` high or critical alerts on the benign evtx-rs-samples."""
    folder = shared / "evtx-rs-samples" / "samples"
    loud = []
    for path in sorted(folder.glob("*.evtx")):
        events = list(Reader(SourceSettings()).read([path]))
        loud += [(path.name, a.rule_title) for a in run(events)
                 if a.severity in ("high", "critical")]
    assert len(loud) <= max_high, loud
