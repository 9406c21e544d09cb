"""Kizuki's own rules for ATT&CK T1500 and above (rules/windows/t15xx, issue 4).

Three layers:
- every rule file is well formed and compiles (R15: a rule library users can extend);
- representative rules meet data files of positive events and near-miss decoys, and
  exactly the expected rules match each event (tests/library/data/t15xx/*.yml);
- on the labelled public EVTX sets the library still detects the techniques of its
  range, and stays quiet (no new high/critical alerts) on the benign evtx-rs-samples.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kizuki.detect.engine import Engine
from kizuki.model import Event, Origin
from kizuki.rules import CompiledRule, RuleIndex, load_ruleset
from kizuki.sources import Reader, SourceSettings
from kizuki.sources.windows import normalize

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "windows" / "t15xx"
CASES = Path(__file__).parent / "data" / "t15xx"
LABELLED_SETS = ("evtx-to-mitre-attack", "evtx-attack-samples", "hayabusa-sample-evtx",
                 "sigma/regression_data")
# Reached 49/56 (87.5%) with this library alone when it was written (issue 4 asks for
# 80% overall); a small margin lets a rule be tightened later without breaking the
# build, while a real regression still fails. The misses are listed in the report
# (mislabelled files, legitimate-only samples, tool-specific traces).
MIN_COVERAGE = 0.85
# The five high alerts on evtx-rs-samples are true to their behaviour and explained in
# docs/detection.md: a kernel driver (Mnemosyne.sys) installed four times from a user's
# Desktop, and a test suite installing a service from AppData\Local\Temp.
MAX_BENIGN_HIGH = 5
TIME = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
_TECHNIQUE = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")


@pytest.fixture(scope="module")
def rules() -> list[CompiledRule]:
    """The compiled t15xx library (loading must not report any error)."""
    ruleset = load_ruleset([RULES])
    assert ruleset.errors == []
    return ruleset.rules


@pytest.fixture(scope="module")
def index(rules: list[CompiledRule]) -> RuleIndex:
    return RuleIndex(rules)


def _rule_docs() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(RULES.glob("*.yml")):
        yield path, yaml.safe_load(path.read_text("utf-8"))


def test_rule_files_are_well_formed(rules: list[CompiledRule]) -> None:
    docs = list(_rule_docs())
    assert len(rules) == len(docs) >= 100
    ids: set[str] = set()
    names: set[str] = set()
    for path, doc in docs:
        where = path.name
        assert uuid.UUID(doc["id"]).version == 4, where
        assert doc["id"] not in ids, where
        ids.add(doc["id"])
        assert doc["name"] == "kizuki_" + path.stem, where
        assert doc["name"] not in names, where
        names.add(doc["name"])
        assert doc["status"] == "experimental", where
        assert doc["author"] == "Kizuki", where
        assert doc["description"].strip() and doc["falsepositives"], where
        assert doc["level"] in ("low", "medium", "high", "critical"), where
        techniques = [t for t in doc["tags"] if _TECHNIQUE.match(t)]
        assert techniques, f"{where}: no ATT&CK technique tag"
        # The first technique tag is the rule's own, and it is in this library's range.
        assert int(techniques[0][8:12]) >= 1500, where


def _event(spec: dict[str, Any], name: str) -> Event:
    """A Windows event normalized as the EVTX reader would (real logsource, ECS fields)."""
    original = dict(spec["original"])
    fields, logsource = normalize(original)
    return Event(timestamp=TIME, data_type="windows:evtx:record", fields=fields,
                 original=original, logsource=logsource, origin=Origin(path=f"case:{name}"))


def _cases() -> Iterator[Any]:
    for path in sorted(CASES.glob("*.yml")):
        for spec in yaml.safe_load(path.read_text("utf-8"))["events"]:
            yield pytest.param(spec, id=f"{path.stem}::{spec['name']}")


@pytest.mark.parametrize("spec", list(_cases()))
def test_case_matches_exactly(spec: dict[str, Any], index: RuleIndex) -> None:
    event = _event(spec, spec["name"])
    matched = sorted(rule.name or rule.title for rule in index.match(event))
    assert matched == sorted(spec["expect"])


def test_every_case_rule_exists(rules: list[CompiledRule]) -> None:
    names = {rule.name for rule in rules}
    expected = {n for p in _cases() for n in p.values[0]["expect"]}
    assert expected <= names


# -- shared data ---------------------------------------------------------------------

def _labelled_files(shared: Path) -> dict[str, list[str]]:
    """Technique -> labelled EVTX files, for the techniques of this range."""
    out: dict[str, list[str]] = {}
    with (shared / "MANIFEST.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["path"].startswith(LABELLED_SETS):
                continue
            for tech in filter(None, row["techniques"].split(";")):
                if int(tech[1:5]) >= 1500:
                    out.setdefault(tech, []).append(row["path"])
    return out


def _alerted_techniques(index: RuleIndex, path: Path) -> set[str]:
    events = list(Reader(SourceSettings()).read([path]))
    return {t.upper() for a in Engine(index).run(events) for t in a.attack}


def test_technique_coverage_on_labelled_sets(shared_data: Path, index: RuleIndex) -> None:
    labelled = _labelled_files(shared_data)
    assert len(labelled) >= 50  # 56 techniques when the library was written
    fired: dict[str, set[str]] = {}
    missed = []
    for tech, files in sorted(labelled.items()):
        parent = tech.split(".")[0]
        for f in files:
            if f not in fired:
                fired[f] = _alerted_techniques(index, shared_data / f)
            if tech in fired[f] or parent in fired[f]:
                break
        else:
            missed.append(tech)
    rate = 1 - len(missed) / len(labelled)
    assert rate >= MIN_COVERAGE, f"coverage {rate:.1%}, missed {missed}"


def test_quiet_on_benign_samples(shared_data: Path, index: RuleIndex) -> None:
    folder = shared_data / "evtx-rs-samples" / "samples"
    loud = []
    for path in sorted(folder.glob("*.evtx")):
        events = list(Reader(SourceSettings()).read([path]))
        loud += [(path.name, a.rule_title) for a in Engine(index).run(events)
                 if a.severity in ("high", "critical")]
    assert len(loud) <= MAX_BENIGN_HIGH, loud
