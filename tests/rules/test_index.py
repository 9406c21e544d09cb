"""RuleIndex: candidates by logsource and event id, and the literal prefilter, which
must only narrow — never change — what matches (issue 3 item 7)."""

from __future__ import annotations

from datetime import UTC, datetime

from kizuki.model import Event, LogSource, Origin
from kizuki.rules import RuleIndex, rules_from_yaml
from kizuki.rules.index import PREFILTER_MIN

SYSMON_1 = LogSource("windows", "sysmon", "process_creation")

SHAPES = [
    "Image|endswith: '\\\\tool{i}.exe'",
    "OriginalFileName: 'tool{i}.exe'",
    "CommandLine|contains: ' --flag{i} '",
    "CommandLine|contains|all: ['alpha{i}', 'beta']",
    "CommandLine: '*run*{i}x*'",
    "CommandLine|re: 'r[e]gex{i}'",
    "Image|endswith: 'x{i}'",
]


def _rules_text(n: int) -> str:
    docs = []
    for i in range(n):
        shape = SHAPES[i % len(SHAPES)].format(i=i)
        docs.append(
            f"title: rule {i}\nlogsource: {{product: windows, category: process_creation}}\n"
            f"detection:\n  sel:\n    {shape}\n  filter:\n    User: 'skip{i}'\n"
            "  condition: sel and not filter\n"
        )
    # A rule with no literal to index (only a negation) runs on every event.
    docs.append(
        "title: negation only\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  filter:\n    Image|endswith: '.exe'\n  condition: not filter\n"
    )
    return "---\n".join(docs)


def _event(**original: object) -> Event:
    return Event(
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        data_type="test",
        fields={},
        original={"EventID": 1, **original},
        logsource=SYSMON_1,
        origin=Origin("test"),
    )


def _events() -> list[Event]:
    return [
        _event(Image="C:\\x\\tool0.exe", CommandLine="a"),
        _event(Image="C:\\x\\a.exe", OriginalFileName="TOOL1.EXE"),
        _event(Image="C:\\x\\a.exe", CommandLine="do --FLAG2 now"),
        _event(Image="C:\\x\\a.exe", CommandLine="Alpha3 Beta"),
        _event(Image="C:\\x\\a.exe", CommandLine="xrun-4x-"),
        _event(Image="C:\\x\\a.exe", CommandLine="regex5"),
        _event(Image="C:\\x\\zzx6", CommandLine="b"),
        _event(Image="C:\\x\\tool7.exe", User="skip7"),
        _event(Image="C:\\x\\noext", CommandLine="nothing"),
        _event(Image="C:\\x\\a.exe", CommandLine=None),
        _event(Image=["C:\\x\\tool14.exe"], CommandLine="list value"),
    ]


def test_prefilter_changes_nothing_but_the_work() -> None:
    rs = rules_from_yaml(_rules_text(60))
    assert not rs.errors
    index = RuleIndex(rs.rules)
    events = _events()
    seen_narrower = False
    for ev in events:
        every = index.candidates(ev, prefilter=False)
        some = index.candidates(ev)
        assert len(every) >= PREFILTER_MIN
        seen_narrower |= len(some) < len(every) // 2
        full = [r.title for r, p in every if p(ev)]
        fast = [r.title for r, p in some if p(ev)]
        assert fast == full
    assert seen_narrower
    titles = [[r.title for r in index.match(ev)] for ev in events]
    assert titles[0] == ["rule 0"]
    assert titles[1] == ["rule 1"]
    assert titles[2] == ["rule 2"]
    assert titles[3] == ["rule 3"]
    assert titles[4] == ["rule 4"]
    assert titles[5] == ["rule 5"]
    assert titles[6] == ["rule 6", "negation only"]  # zzx6 does not end with .exe
    assert titles[10] == ["rule 14"]  # a list-valued field
    assert "rule 7" not in titles[7]  # filtered by User
    assert titles[8] == ["negation only"]


def test_candidates_by_logsource_and_event_id() -> None:
    rs = rules_from_yaml(
        "title: logon\nlogsource: {product: windows, service: security}\n"
        "detection:\n  sel:\n    EventID: [4624, 4625]\n  condition: sel\n"
        "---\n"
        "title: proc\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  sel:\n    Image|endswith: '\\\\a.exe'\n  condition: sel\n"
    )
    logon, proc = rs.rules
    assert logon.event_ids == frozenset({4624, 4625})
    assert proc.event_ids is None
    index = RuleIndex(rs.rules)

    def ev(ls: LogSource, eid: int) -> Event:
        return Event(datetime(2024, 1, 1, tzinfo=UTC), "t", {}, {"EventID": eid}, ls, Origin("t"))

    security = LogSource("windows", "security")
    assert [r for r, _ in index.candidates(ev(security, 4624))] == [logon]
    assert [r for r, _ in index.candidates(ev(security, 4689))] == []
    # Security 4688 is process creation even when the parser set no category.
    assert [r for r, _ in index.candidates(ev(security, 4688))] == [proc]
    assert [r for r, _ in index.candidates(ev(LogSource("windows", "security",
                                                       "process_creation"), 4688))] == [proc]
    assert [r for r, _ in index.candidates(ev(SYSMON_1, 1))] == [proc]
    assert [r for r, _ in index.candidates(ev(LogSource("linux", "auth"), 1))] == []


def test_grouped_resolution_equals_trying_every_rule() -> None:
    """The category grouping only skips rules that cannot apply: for every event type,
    the candidates are exactly the rules whose logsource and event ids admit it."""
    text = "---\n".join([
        "title: proc\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  s: {Image|endswith: '.exe'}\n  condition: s\n",
        "title: sec 4624\nlogsource: {product: windows, service: security}\n"
        "detection:\n  s: {EventID: 4624}\n  condition: s\n",
        "title: any windows\nlogsource: {product: windows}\n"
        "detection:\n  s: {Channel: Security}\n  condition: s\n",
        "title: net\nlogsource: {product: windows, category: network_connection}\n"
        "detection:\n  s: {DestinationPort: 445}\n  condition: s\n",
        "title: linux\nlogsource: {product: linux, service: auth}\n"
        "detection:\n  s: {message|contains: sudo}\n  condition: s\n",
    ])
    loaded = rules_from_yaml(text)
    assert not loaded.errors
    index = RuleIndex(loaded.rules)
    kinds = [
        ("windows", "security", None, 4688), ("windows", "security", None, 4624),
        ("windows", "sysmon", "process_creation", 1), ("windows", "sysmon",
                                                       "network_connection", 3),
        ("windows", "system", None, 7045), ("linux", "auth", None, None),
    ]
    for product, service, category, eid in kinds:
        original = {"EventID": eid, "Channel": "Security"} if eid else {}
        ev = Event(datetime(2026, 11, 3, tzinfo=UTC), "t", {}, original,
                   LogSource(product, service, category), Origin("x"))
        got = [rule.title for rule, _ in index.candidates(ev, prefilter=False)]
        want = [r.title for r in loaded.rules
                if r.variant_for(product, service, category, eid) is not None]
        assert got == want, (product, service, category, eid)
