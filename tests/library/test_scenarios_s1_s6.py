"""Scenarios S1–S6 of the built-in library, from their own test data (issue 4 items 1–2;
requirements S1–S6, R15, R16).

Each scenario folder holds ``tests/cases.json``: an inline context, then cases of events
exactly as Kizuki's parsers give them (Windows records through
``kizuki.sources.windows.normalize``, sinkhole/firewall, sshd and auditd lines through
the Reader) with the scenario alerts they must raise — positives exactly once, decoys
never. Correlations shipped beside a scenario (S4's failed-logon burst, S6's unordered
erasure window) run in a ``CorrelationDetector`` before the ``ScenarioDetector``, as
``kizuki hunt`` does. Real samples (samples/windows, ../shared/data) and the demo week
show which stage rules fire on data nobody here wrote, and that no scenario fires on
benign activity.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kizuki.context import Context
from kizuki.detect import Engine, EngineSettings
from kizuki.detect.correlation import CorrelationDetector
from kizuki.model import AlertKind
from kizuki.rules import RuleIndex
from kizuki.sources import Reader, SourceSettings
from tests.library.scenario_folders import (
    ROOT,
    Case,
    check_batches,
    check_case,
    check_folder,
    lib,
    load_cases,
    matches,
    run,
    shared,
)

SAMPLES = ROOT / "samples" / "windows"
SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6")
#: The correlations shipped beside a scenario (loaded by hand: see the READMEs, "Gaps").
CORRELATIONS = {"S4": ["kizuki_failed_logon_burst"], "S6": ["kizuki_trace_erasure_window"]}
CASES = [c for s in SCENARIOS for c in load_cases(s)]
POSITIVES = [c for c in CASES if c.kind == "positive"]


def _label(case: Case) -> str:
    """This module's name for a case (each scenario has one case file): its test id and
    the seed of its odd batch size."""
    return f"{case.scenario}::{case.name}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_folder_loads_and_resolves(name: str) -> None:
    """Every folder loads without error; stage references are its own rules or the
    correlations beside it; stage rules are building blocks; the README covers the
    attack, log sources, techniques, false positives, playbook, tuning and tests."""
    loaded, readme = check_folder(name, CASES, CORRELATIONS.get(name, []), (
        "## Stages", "## Log sources", "## ATT&CK", "## False positives", "## Tuning",
        "## Tested on", "## Gaps"))
    scenario = loaded.scenarios.scenarios[0]
    assert scenario.playbook is not None and scenario.playbook.startswith(f"{name}-")
    assert scenario.playbook in readme


@pytest.mark.parametrize("case", CASES, ids=[_label(c) for c in CASES])
def test_case(case: Case) -> None:
    """Positives fire exactly as written (scenario, entity, evidence); decoys never."""
    check_case(case)


@pytest.mark.parametrize("case", POSITIVES, ids=[_label(c) for c in POSITIVES])
def test_same_alerts_whatever_the_batches(case: Case) -> None:
    """Live (one event per batch) gives the same alerts, ids included, as one batch."""
    check_batches(case, random.Random(_label(case)).randint(2, 4))


@pytest.mark.parametrize("case", POSITIVES, ids=[_label(c) for c in POSITIVES])
def test_positive_alerts_explain_themselves(case: Case) -> None:
    for alert in run(lib(case.scenario), case.context, case.events):
        assert alert.playbook and alert.playbook.startswith(case.scenario + "-")
        assert alert.attack and alert.explanation.startswith("Scenario")
        assert alert.first_seen == alert.evidence[0].event.timestamp
        assert {e.stage for e in alert.evidence} == {
            st.name for st in lib(case.scenario).scenarios.scenarios[0].stages}


# --------------------------------------------------------------------------- real samples
def _bursts(paths: list[Path]) -> list[tuple[str, int]]:
    """S4's failed-logon burst correlation alerts over ``paths``: (user, evidence)."""
    loaded = lib("S4")
    correlations = CorrelationDetector(loaded.correlations, loaded.rules)
    engine = Engine(RuleIndex(loaded.rules), [correlations],
                    EngineSettings(silent_rules=correlations.silent_rules()))
    alerts = engine.run(Reader(SourceSettings()).read(paths))
    return sorted((a.entity.get("user", "?"), len(a.evidence)) for a in alerts
                  if a.kind is AlertKind.correlation)


def test_stage_rules_on_the_bundled_samples() -> None:
    """samples/windows (mdecrevoisier/EVTX-to-MITRE-Attack, CC0): the brute force file
    gives S4 two bursts (Administrator, Admin: AccountRestore's 4625s), the 4720/4732
    files S5's privileged-change stage, the 104/1102 file S6's log-cleared part (the
    psexec file starts with the author's own 1102). No scenario completes: each file
    holds one step of an attack."""
    assert matches("S4", [SAMPLES]) == {"kizuki_failed_logon": 16}
    assert _bursts([SAMPLES / "T1110-bruteforce-4776-4625.evtx"]) == [
        ("admin", 5), ("administrator", 5)]
    assert matches("S5", [SAMPLES]) == {"kizuki_account_or_group_change": 4}
    assert matches("S6", [SAMPLES]) == {"kizuki_log_cleared_event": 92}
    events = list(Reader(SourceSettings()).read([SAMPLES]))
    for name in SCENARIOS:
        assert run(lib(name), Context(), events) == [], name


_E2M = ("evtx-to-mitre-attack",)


def test_s4_burst_on_real_brute_force_samples() -> None:
    """Every labelled T1110 EVTX with Windows failed logons gives a burst on its target
    account: NTLM (4776/4625), Windows OpenSSH (4625) and Kerberos (4771)."""
    brute = shared(*_E2M, "TA0006-Credential Access", "T1110.xxx-Brut force")
    assert _bursts([brute]) == [("admin", 5), ("admin-hacker", 5), ("administrator", 5),
                                ("admmig", 5)]
    smb = shared("hayabusa-sample-evtx", "DeepBlueCLI", "smb-password-guessing-security.evtx")
    assert _bursts([smb]) == [("administrator", 5)]


def test_s5_stage_rules_on_real_discovery_and_account_samples() -> None:
    """Discovery: setspn -Q (Sysmon 1) and PowerShell AD/forest discovery (4104) fire
    the first stage; the remote logons of the same files (SharpHound, CME) the second;
    the account creation and group change files (T1136, T1098) the last one."""
    discovery = matches("S5", [shared(*_E2M, "TA0007-Discovery")])
    assert discovery == {"kizuki_domain_discovery_command": 1,
                         "kizuki_powershell_domain_discovery": 2, "kizuki_remote_logon": 56}
    created = matches("S5", [shared(*_E2M, "TA0003-Persistence", "T1136-Create account")])
    assert created.get("kizuki_account_or_group_change", 0) >= 6
    groups = matches("S5", [shared(*_E2M, "TA0003-Persistence",
                                     "T1098.xxx-Account manipulation",
                                     "ID4728-4756-Member added to sensitive domain groups.evtx")])
    assert groups.get("kizuki_account_or_group_change", 0) >= 2


def test_s6_stage_rules_on_real_log_clearing_and_audit_policy_samples() -> None:
    """T1070.001: 1102/104 (the 104-1102 file clears 91 logs), wmic. T1562.002: auditpol
    /clear and /set …:disable (4688). DE_WinEventLogSvc_Crash: the 7036 'Windows Event
    Log running' after the crash is a restart, not a stop: it stays quiet."""
    cleared = matches("S6", [shared(*_E2M, "TA0005-Defense Evasion",
                                      "T1070.001-Clear Windows event logs")])
    # The shared clearing-command block (scenarios/common, also S10's) sees the WMI
    # file's `wmic nteventlog ... cl` as well.
    assert cleared == {"kizuki_log_cleared_event": 92, "kizuki_log_clear_command": 1}
    audit = matches("S6", [shared(*_E2M, "TA0005-Defense Evasion",
                                    "T1562.002-Disable Windows Event Logging")])
    assert audit == {"kizuki_logging_stop_command": 2}
    crash = matches("S6", [shared("evtx-attack-samples", "Defense Evasion",
                                    "DE_WinEventLogSvc_Crash_System_7036.evtx")])
    assert crash == {}


def test_s2_s3_stage_rules_on_real_samples() -> None:
    """S2: the drive-by sample (CVE-2018-15982, iexplore → cmd) writes no file and runs
    nothing from a user folder, so S2's first stage has nothing to see — a documented
    blind spot. S3: the evtx-rs system.evtx holds a real UserPnp 20001/20003 for a USB
    card reader (SWD\\WPDBUSENUM\\…USBSTOR…)."""
    driveby = matches("S2", [shared("evtx-attack-samples", "Execution",
                                      "exec_driveby_cve-2018-15982_sysmon_1_10.evtx")])
    assert driveby == {}
    usb = matches("S3", [shared("evtx-rs-samples", "samples", "system.evtx")])
    assert usb.get("kizuki_usb_storage_attached", 0) >= 2


def test_no_scenario_fires_on_the_demo_week(tmp_path: Path) -> None:
    """The demo week (kizuki demo generate): an organisation's ordinary week with S7
    planted, a lockout and typos. Office and the browser start no programs, nobody
    runs discovery or plugs a USB stick, no log is cleared: none of S1–S6 may fire,
    although their building blocks see thousands of events (sinkhole hits, logons,
    share reads)."""
    from kizuki.demo import generate

    generate(tmp_path)
    context = Context.load(tmp_path / "context")
    events = list(Reader(SourceSettings()).read([tmp_path]))
    for name in SCENARIOS:
        assert run(lib(name), context, events) == [], name
    seen = matches("S4", [tmp_path])
    assert seen["kizuki_logon_success"] > 300 and seen["kizuki_account_lockout"] == 1
    assert matches("S1", [tmp_path])["kizuki_firewall_connection"] > 1000
