"""``kizuki eval`` on a tiny labelled set of the repository's own samples (issue 4 item 4).

Inline rules make every outcome deliberate: detected (same technique, via the parent,
by a scenario), and each miss reason (no log source, no rule yet, rule too narrow).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kizuki.assess.evaluate import Explanations, MissReason, evaluate, to_dict
from kizuki.assess.labels import load_labels
from kizuki.assess.library import Library
from kizuki.assess.report import render_html, render_markdown, sections
from kizuki.rules import rules_from_yaml
from kizuki.rules.scenario import scenarios_from_yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "windows"

RULES = """
title: Scheduled task created
id: 00000000-0000-4000-8000-000000000001
status: test
tags: [attack.persistence, attack.t1053.005]
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4698}
  condition: sel
level: high
---
title: Security log cleared
id: 00000000-0000-4000-8000-000000000002
status: test
tags: [attack.defense_evasion, attack.t1070]
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 1102}
  condition: sel
level: high
---
title: Failed logon of a user that does not exist here
id: 00000000-0000-4000-8000-000000000003
status: test
tags: [attack.credential_access, attack.t1110.001]
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625, TargetUserName: nobody-such}
  condition: sel
level: medium
---
title: User account created
id: 00000000-0000-4000-8000-000000000004
status: test
tags: [attack.persistence, attack.t1136.001]
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4720}
  condition: sel
level: high
---
title: Any process creation
id: 00000000-0000-4000-8000-000000000005
name: any_process
status: test
tags: [attack.execution, attack.t1059.003]
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '.exe'}
  condition: sel
level: informational
"""

SCENARIO = """
title: A program runs, then a scheduled task appears
id: SX
entity: host
level: high
tags: [attack.t1053]
stages:
  - name: process
    rules: [any_process]
  - name: task
    rules: [00000000-0000-4000-8000-000000000001]
    within: 1h
"""

EXPLANATIONS = """
explanations:
  - file: benign.evtx
    rule: 00000000-0000-4000-8000-000000000004
    verdict: true positive
    explanation: an administrator created this account <on purpose>
"""


def _library() -> Library:
    rules = rules_from_yaml(RULES)
    scen = scenarios_from_yaml(SCENARIO)
    assert not rules.errors and not scen.errors
    return Library(rules=[*rules.rules, *scen.rules], scenarios=scen.scenarios)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    names = {
        "T1053.005-scheduled-task-4688-4698.evtx": "T1053.005;T1059.003",
        "T1070.001-event-log-cleared-104-1102.evtx": "T1070.001",
        "T1098-user-added-to-local-admins-4732.evtx": "T1098",
        "T1110-bruteforce-4776-4625.evtx": "T1110.001",
        "T1136-admin-like-user-created-4720.evtx": "T1136.001",
        "T1543.003-psexec-service-7045.evtx": "T1543.003",
    }
    rows = ["path,source,licence,unit,techniques,label_note"]
    (tmp_path / "attack").mkdir()
    for name, techniques in names.items():
        shutil.copy(SAMPLES / name, tmp_path / "attack" / name)
        rows.append(f"attack/{name},samples@1,CC0-1.0,evtx,{techniques},")
    shutil.copy(ROOT / "tests" / "data" / "zeek" / "conn.log", tmp_path / "attack" / "conn.log")
    rows.append("attack/conn.log,zeek-samples@1,CC0-1.0,zeek,T1071.001,")
    (tmp_path / "benign").mkdir()
    shutil.copy(SAMPLES / "T1136-admin-like-user-created-4720.evtx",
                tmp_path / "benign" / "benign.evtx")
    rows.append("benign/benign.evtx,background@1,MIT,evtx,,benign-background")
    rows.append("attack/not-here.evtx,samples@1,CC0-1.0,evtx,T1000,")
    (tmp_path / "MANIFEST.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "explanations.yml").write_text(EXPLANATIONS)
    return tmp_path


@pytest.mark.parametrize("jobs", [1, 2])
def test_detected_and_missed_techniques_with_reasons(dataset: Path, jobs: int) -> None:
    labels = load_labels(dataset / "MANIFEST.csv")
    notes = Explanations.load(dataset / "explanations.yml")
    ev = evaluate([dataset], labels, _library(), jobs=jobs, explanations=notes)

    outcome = {t.technique: (t.detected, t.reason) for t in ev.techniques}
    assert outcome == {
        "T1053.005": (True, None),
        "T1059.003": (False, MissReason.too_narrow),  # matched, but informational
        "T1070.001": (True, None),  # by a rule tagged with the parent T1070
        "T1071.001": (False, MissReason.no_log_source),  # no rule reads zeek/conn
        "T1098": (False, MissReason.no_rule),
        "T1110.001": (False, MissReason.too_narrow),  # reads 4625, did not fire
        "T1136.001": (True, None),
        "T1543.003": (False, MissReason.no_log_source),  # windows/system: no rule reads it
    }
    assert ev.detected == 3 and ev.rate == pytest.approx(3 / 8)
    by = {t.technique: t.by for t in ev.techniques}
    # The scenario carries T1053 (the parent), so it detects T1053.005 too.
    assert by["T1053.005"] == ["A program runs, then a scheduled task appears",
                               "Scheduled task created"]
    details = {t.technique: t.detail for t in ev.techniques}
    assert details["T1059.003"].startswith("matched but raised no alert of its own")
    assert "1 read these events (Failed logon of a user" in details["T1110.001"]
    assert details["T1098"] == "no rule or scenario carries T1098"
    assert details["T1071.001"] == "no rule reads its events (zeek/conn)"
    assert [lb.name for lb in ev.missing] == ["attack/not-here.evtx"]
    assert ev.scenario_alerts() == [
        ("SX", "A program runs, then a scheduled task appears", 1,
         ["attack/T1053.005-scheduled-task-4688-4698.evtx"])]
    assert ev.groups() == [("background", 1, 0, 0), ("samples", 6, 3, 7),
                           ("zeek-samples", 1, 0, 1)]

    # The benign file's high alert is listed with the person's explanation.
    assert [(b.file, b.rule_title, b.severity, b.count, b.verdict) for b in ev.benign] == [
        ("benign/benign.evtx", "User account created", "high", 1, "true positive")]
    files = {f.label.name: f for f in ev.files}
    assert files["attack/conn.log"].events == 25 and not files["attack/conn.log"].alerts
    assert files["benign/benign.evtx"].severities() == {"high": 1}


def test_reports_escape_and_agree(dataset: Path) -> None:
    labels = load_labels(dataset / "MANIFEST.csv")
    ev = evaluate([dataset / "attack", dataset / "benign"], labels, _library(), jobs=1,
                  explanations=Explanations.load(dataset / "explanations.yml"))
    md = render_markdown(sections(ev))
    assert "**Technique-level detection rate: 3/8 (37.5%)**" in md
    assert "| T1098 | no rule yet | no rule or scenario carries T1098 |" in md
    assert "&lt;on purpose&gt;" in md and "<on purpose>" not in md
    page = render_html(sections(ev))
    assert "<strong>Technique-level detection rate: 3/8 (37.5%)</strong>" in page
    assert "&lt;on purpose&gt;" in page and "<on purpose>" not in page
    figures = to_dict(ev)
    assert figures["techniques_detected"] == 3 and figures["techniques_labelled"] == 8
    assert figures["pairs_detected"] == 3 and figures["pairs_labelled"] == 8
