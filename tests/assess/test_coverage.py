"""``kizuki coverage``: which scenario stages stay blind for the logs collected (issue 4
item 5, R15)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kizuki.assess.coverage import (
    ScenarioCoverage,
    Source,
    coverage,
    parse_sources,
    sources_from,
)
from kizuki.assess.library import load_library
from kizuki.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

SX = """
title: Office spawns a program that then beacons out
id: SX
entity: host
stages:
  - name: office_spawns_program
    rules: [office_child]
  - name: beacon
    rules: [zeek_long_conn]
    within: 1h
"""
SY = """
title: Failed logons, then no success
id: SY
entity: user
stages:
  - name: failed_logons
    rules: [failed_logon]
  - name: no_success
    rules: [good_logon]
    absent: true
    within: 10m
"""
RULES = {
    "office_child.yml": """
title: Office program spawns a shell
id: 00000000-0000-4000-8000-0000000000a1
name: office_child
status: test
logsource: {product: windows, category: process_creation}
detection:
  sel: {ParentImage|endswith: '\\\\winword.exe'}
  condition: sel
level: high
""",
    "zeek_long_conn.yml": """
title: Long connection
id: 00000000-0000-4000-8000-0000000000a2
name: zeek_long_conn
status: test
logsource: {product: zeek, service: conn}
detection:
  sel: {duration|gt: 3600}
  condition: sel
level: low
""",
    "failed_logon.yml": """
title: Failed logon
id: 00000000-0000-4000-8000-0000000000a3
name: failed_logon
status: test
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
level: low
""",
    "good_logon.yml": """
title: Successful logon
id: 00000000-0000-4000-8000-0000000000a4
name: good_logon
status: test
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624}
  condition: sel
level: informational
""",
}


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    for sid, text in (("SX", SX), ("SY", SY)):
        folder = tmp_path / "scenarios" / sid
        (folder / "rules").mkdir(parents=True)
        (folder / "scenario.yml").write_text(text)
    for name, text in RULES.items():
        sid = "SY" if "logon" in name else "SX"
        (tmp_path / "scenarios" / sid / "rules" / name).write_text(text)
    return tmp_path / "scenarios"


def _blind(found: list[ScenarioCoverage]) -> dict[str, list[tuple[str, str]]]:
    return {s.id: [(st.name, st.reason) for st in s.blind] for s in found}


def test_security_log_feeds_process_creation_but_not_zeek(scenarios: Path) -> None:
    lib = load_library(scenarios=[scenarios])
    assert not lib.errors and [s.id for s in lib.scenarios] == ["SX", "SY"]
    cov = coverage(lib, parse_sources(["windows:security"]))
    assert _blind(cov.scenarios) == {
        "SX": [("beacon", "needs zeek/conn: not collected")],
        "SY": [],
    }
    assert [s.works for s in cov.scenarios] == [False, True]
    assert cov.scenarios[0].stages[0].fed_by == ["windows:security"]
    assert (cov.rules_working, cov.rules_total) == (3, 4)


def test_sysmon_only_leaves_the_logon_scenario_blind(scenarios: Path) -> None:
    lib = load_library(scenarios=[scenarios])
    cov = coverage(lib, parse_sources(["windows:sysmon,zeek:conn"]))
    assert _blind(cov.scenarios) == {
        "SX": [],
        "SY": [("failed_logons", "needs windows/security: not collected"),
               ("no_success", "needs windows/security: not collected; an absent stage "
                              "that cannot see would always look absent")],
    }
    nothing = coverage(lib, parse_sources(["linux:auth"]))
    assert _blind(nothing.scenarios)["SX"] == [
        ("office_spawns_program", "needs windows/process_creation (Sysmon 1 or Security "
                                  "4688): not collected"),
        ("beacon", "needs zeek/conn: not collected")]
    data = nothing.to_dict()
    assert data["rules"] == {"total": 4, "working": 0}
    assert data["scenarios"][0]["stages"][0]["needs"] == [
        "windows/process_creation (Sysmon 1 or Security 4688)"]


def test_sources_inferred_from_logs_know_the_event_ids(scenarios: Path, tmp_path: Path
                                                      ) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # Security with 4625 only (no 4688: process creation is not audited there).
    shutil.copy(ROOT / "samples" / "windows" / "T1110-bruteforce-4776-4625.evtx", logs)
    shutil.copy(ROOT / "tests" / "data" / "zeek" / "conn.log", logs)
    found = sources_from([logs])
    assert found == [Source("windows:security 4625", "windows", "security", None,
                            frozenset({4625}), exact=True),
                     Source("zeek:conn", "zeek", "conn", None, None, exact=True)]
    cov = coverage(load_library(scenarios=[scenarios]), found)
    assert _blind(cov.scenarios) == {
        "SX": [("office_spawns_program", "needs windows/process_creation (Sysmon 1 or "
                                         "Security 4688): not collected")],
        "SY": [],
    }
    with_4688 = Source("windows:security 4688", "windows", "security", None,
                       frozenset({4688}), exact=True)
    assert coverage(load_library(scenarios=[scenarios]), [with_4688]).scenarios[0] \
        .stages[0].works


def test_source_names() -> None:
    assert parse_sources(["windows:security, process_creation", "zeek",
                          "windows/process_creation", "cisco:asa:firewall"]) == [
        Source("windows:security", "windows", "security"),
        Source("process_creation", category="process_creation"),
        Source("zeek", "zeek"),
        Source("windows:process_creation", "windows", category="process_creation"),
        Source("cisco:asa:firewall", "cisco", "asa", "firewall"),
    ]
    with pytest.raises(ConfigError):
        parse_sources(["a:b:c:d"])


def test_unknown_stage_rule_is_reported(tmp_path: Path) -> None:
    (tmp_path / "s.yml").write_text(SX)
    cov = coverage(load_library(scenarios=[tmp_path]), parse_sources(["windows"]))
    assert _blind(cov.scenarios) == {"SX": [
        ("office_spawns_program", "rule(s) not loaded: office_child"),
        ("beacon", "rule(s) not loaded: zeek_long_conn")]}


def test_whole_product_and_observed_sources_stay_precise() -> None:
    from kizuki.rules import rules_from_yaml

    web, sec = rules_from_yaml("""
title: SQL injection in a URL
id: 00000000-0000-4000-8000-0000000000c1
status: test
logsource: {category: webserver}
detection:
  sel: {cs-uri-query|contains: 'UNION SELECT'}
  condition: sel
level: high
---
title: Failed logon
id: 00000000-0000-4000-8000-0000000000c2
status: test
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
level: low
""").rules
    windows, webserver = parse_sources(["windows,webserver"])
    assert windows.feeds(sec) and not windows.feeds(web)
    assert webserver.feeds(web) and not webserver.feeds(sec)
    # Events whose channel maps to no service: the service is unknown, not "any".
    unknown = Source("windows 104", "windows", None, None, frozenset({104}), exact=True)
    assert not unknown.feeds(sec)
