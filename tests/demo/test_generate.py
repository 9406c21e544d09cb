"""The demo generator: deterministic, native formats, and the ground truth it claims.

The planted S7 instance (requirements S7, R16, R7, R3) and each decoy are checked
against the written files with plain-Python readers (``logs.py``), and a reference
S7 detector over those files must find exactly the one instance for several seeds and
calendars.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from kizuki.demo import DEFAULT_START, GroundTruth, generate
from kizuki.demo.truth import Planted

from . import logs

LOG_FILES = (
    "windows/security.jsonl", "windows/sysmon.jsonl", "fileserver/full_audit.log",
    "firewall/iptables.log", "sinkhole/sinkhole.log", "proxy/access.log", "dns/dns.log",
)
OTHER_FILES = ("ground_truth.json", "context/assets.yaml", "context/zones.yaml",
               "context/calendar.yaml")


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "one", seed=11)
    generate(tmp_path / "two", seed=11)
    one, two = _all_bytes(tmp_path / "one"), _all_bytes(tmp_path / "two")
    assert sorted(one) == sorted(LOG_FILES + OTHER_FILES)
    assert one == two


def test_other_seed_gives_other_logs(demo_week: tuple[Path, GroundTruth], tmp_path: Path
                                     ) -> None:
    root, _ = demo_week
    generate(tmp_path, seed=8)
    ours, theirs = _all_bytes(root), _all_bytes(tmp_path)
    for name in LOG_FILES:
        assert ours[name] != theirs[name], name


def test_size_and_volume(demo_week: tuple[Path, GroundTruth]) -> None:
    root, truth = demo_week
    total = sum((root / f).stat().st_size for f in LOG_FILES)
    assert 2_000_000 < total < 10_000_000
    records = sum(info.lines for info in truth.files.values())
    assert records > 10_000
    for name in LOG_FILES:
        assert truth.files[name].lines > 0, name
        assert truth.files[name].bytes == (root / name).stat().st_size


def test_ground_truth_file_matches_returned_value(demo_week: tuple[Path, GroundTruth]
                                                   ) -> None:
    root, truth = demo_week
    written = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    assert written == json.loads(truth.to_json())
    assert written["seed"] == 7
    assert written["start"] == "2026-11-02" == DEFAULT_START.isoformat()
    assert DEFAULT_START.weekday() == 0
    assert written["timezone"] == "Asia/Tokyo"
    assert written["holidays"] == [{"date": "2026-11-03", "name": "Culture Day"}]
    assert written["working_days"] == ["2026-11-02", "2026-11-04", "2026-11-05",
                                       "2026-11-06"]
    assert written["s7"]["expect_alert"] is True
    assert {d["kind"] for d in written["decoys"]} == {
        "night-access-no-followup", "sinkhole-without-access", "sinkhole-too-late",
        "business-hours-sequence", "sinkhole-from-other-pc", "lookalike-share"}
    assert all(d["expect_alert"] is False for d in written["decoys"])


def test_context_files(demo_week: tuple[Path, GroundTruth]) -> None:
    root, truth = demo_week
    assets = yaml.safe_load((root / "context/assets.yaml").read_text(encoding="utf-8"))
    by_host = {a["host"]: a for a in assets["assets"]}
    assert by_host["DC01"]["criticality"] == by_host["FS01"]["criticality"] == "critical"
    assert by_host["DC01"]["role"] == "domain-controller"
    assert by_host["SINK01"] == {**by_host["SINK01"], "ip": "10.255.255.1", "zone": "sinkhole"}
    assert by_host[truth.s7.host]["ip"] == truth.s7.ip
    assert by_host[truth.s7.host]["owner"] == truth.s7.user
    jinji = [s for s in by_host["FS01"]["shares"] if s["name"] == "jinji"]
    assert jinji[0]["important"] is True
    assert all(set(a) >= {"host", "ip", "owner", "zone", "criticality", "role"}
               for a in assets["assets"])
    assert len([a for a in assets["assets"] if a["role"] == "workstation"]) == 40
    zones = yaml.safe_load((root / "context/zones.yaml").read_text(encoding="utf-8"))
    assert zones["zones"]["sinkhole"] == ["10.255.255.1/32"]
    assert zones["zones"]["protected"] == ["10.1.0.0/16"]


# --- native formats ----------------------------------------------------------------

def test_windows_lines_are_winlogbeat_8(demo_week: tuple[Path, GroundTruth]) -> None:
    root, _ = demo_week
    ids: dict[tuple[str, str], list[int]] = defaultdict(list)
    codes: set[str] = set()
    for name in ("windows/security.jsonl", "windows/sysmon.jsonl"):
        for rec in logs.windows(root, name):
            doc = rec.fields
            assert doc["@timestamp"].endswith("Z")
            win = doc["winlog"]
            assert win["event_id"] == doc["event"]["code"]
            assert doc["host"]["name"] == win["computer_name"].split(".")[0].lower()
            ids[(win["computer_name"], win["channel"])].append(win["record_id"])
            codes.add(f"{win['channel']}:{win['event_id']}")
    for key, seq in ids.items():
        assert seq == list(range(seq[0], seq[0] + len(seq))), key
    assert codes >= {f"Security:{c}" for c in
                     ("4624", "4625", "4634", "4672", "4663", "5145", "4688", "4740")}
    assert codes >= {f"Microsoft-Windows-Sysmon/Operational:{c}" for c in ("1", "3", "22")}


def test_syslog_files_are_local_time_rfc3164(demo_week: tuple[Path, GroundTruth]) -> None:
    root, truth = demo_week
    start = datetime(2026, 11, 2, tzinfo=logs.JST)
    for name in ("firewall/iptables.log", "sinkhole/sinkhole.log"):
        recs = logs.iptables(root, name, 2026)
        assert all(start <= r.ts < start + timedelta(days=8) for r in recs)
        assert [r.ts for r in recs] == sorted(r.ts for r in recs)
    fw = logs.iptables(root, "firewall/iptables.log", 2026)
    prefixes = {r.fields["prefix"] for r in fw}
    assert prefixes == {"FW-ALLOW-OUT:", "FW-DENY-OUT:", "FW-DENY-IN:"}
    assert all(r.fields["SRC"] == "10.2.0.10" for r in fw if r.fields["prefix"] ==
               "FW-ALLOW-OUT:")
    sink = logs.iptables(root, "sinkhole/sinkhole.log", 2026)
    assert {r.fields["prefix"] for r in sink} == {"SINKHOLE:"}
    assert {r.fields["host"] for r in sink} == {"sink01"}
    audit = logs.samba(root, "fileserver/full_audit.log", 2026)
    assert {r.fields["share"] for r in audit} == {"jinji2"}
    assert any("給与" in "|".join(r.fields["args"]) for r in audit)
    assert truth.files["fileserver/full_audit.log"].lines == len(audit)


def test_zeek_and_proxy(demo_week: tuple[Path, GroundTruth]) -> None:
    root, _ = demo_week
    header, dns = logs.zeek(root, "dns/dns.log")
    assert header[0] == "#separator \\x09"
    assert header[4] == "#path\tdns"
    assert header[-1].startswith("#close\t")
    assert {r.fields["id.resp_h"] for r in dns} == {"10.1.0.10"}
    assert {r.fields["qtype_name"] for r in dns} == {"A", "SRV"}
    web = logs.proxy(root, "proxy/access.log")
    assert {r.fields["method"] for r in web} == {"CONNECT", "GET"}
    assert any(r.fields["status"] == 403 for r in web)


# --- the planted instance and the decoys ----------------------------------------------

class World:
    """Every record of one generated week that matters for S7, parsed from the files."""

    def __init__(self, root: Path, truth: GroundTruth) -> None:
        year = truth.start.year
        self.truth = truth
        self.working = set(truth.working_days)
        self.important = set(truth.important_shares)
        sec = logs.windows(root, "windows/security.jsonl")
        self.by_loc = {(r.file, r.line): r for r in sec}
        # Share reads on FS01 (5145): (time, client ip, UNC share, relative path).
        self.reads: list[tuple[datetime, str, str, str, logs.Line]] = []
        for r in sec:
            w = r.fields["winlog"]
            if w["event_id"] == "5145":
                d = w["event_data"]
                share = "\\\\FS01\\" + d["ShareName"].rsplit("\\", 1)[1]
                self.reads.append((r.ts, d["IpAddress"], share, d["RelativeTargetName"], r))
        for r in logs.samba(root, "fileserver/full_audit.log", year):
            self.by_loc[(r.file, r.line)] = r
            if r.fields["op"] == "openat":
                self.reads.append((r.ts, r.fields["ip"], "\\\\FS02\\" + r.fields["share"],
                                   r.fields["args"][-1], r))
        self.sinkhole = logs.iptables(root, "sinkhole/sinkhole.log", year)
        for r in self.sinkhole:
            self.by_loc[(r.file, r.line)] = r

    def detect_s7(self, window: float = 30) -> list[tuple[str, datetime]]:
        """Reference S7: off-hours important reads, then the same IP at the sinkhole."""
        hits = []
        for hit in self.sinkhole:
            ip = hit.fields["SRC"]
            if any(rip == ip and share in self.important and logs.off_hours(ts, self.working)
                   and logs.within(ts, hit.ts, window)
                   for ts, rip, share, _, _ in self.reads):
                hits.append((ip, hit.ts))
        return hits

    def record(self, loc: object) -> logs.Line:
        from kizuki.demo.logbook import Location

        assert isinstance(loc, Location)
        rec = self.by_loc[(loc.file, loc.line)]
        assert rec.offset == loc.offset
        return rec


@pytest.fixture(scope="module")
def world(demo_week: tuple[Path, GroundTruth]) -> World:
    return World(*demo_week)


def _reads_of(world: World, story: Planted) -> list[tuple[datetime, str, str, str]]:
    """The share reads among a story's file events, checked against the files."""
    out = []
    for loc in story.file_events:
        rec = world.record(loc)
        for ts, ip, share, rel, r in world.reads:
            if r is rec:
                out.append((ts, ip, share, rel))
    return out


def _sinkhole_of(world: World, story: Planted) -> list[logs.Line]:
    return [world.record(loc) for loc in story.sinkhole_events]


def test_s7_instance_is_in_the_files(world: World) -> None:
    s7 = world.truth.s7
    assert s7.host.startswith("WS-") and s7.ip.startswith("10.1.1.")
    reads = _reads_of(world, s7)
    assert len(reads) >= 3
    assert {ip for _, ip, _, _ in reads} == {s7.ip}
    assert {share for _, _, share, _ in reads} == {"\\\\FS01\\jinji"}
    assert all(logs.off_hours(ts, world.working) for ts, _, _, _ in reads)
    assert min(ts for ts, *_ in reads) == s7.file_access_first
    # 4663 records of the same reads carry the local path and the same user.
    objects = [world.record(loc).fields["winlog"]["event_data"] for loc in s7.file_events
               if world.record(loc).fields["winlog"]["event_id"] == "4663"]
    assert objects and all(o["ObjectName"].startswith("D:\\Shares\\jinji\\") for o in objects)
    assert {o["SubjectUserName"] for o in objects} == {s7.user}
    hits = _sinkhole_of(world, s7)
    assert hits and {h.fields["SRC"] for h in hits} == {s7.ip}
    assert min(h.ts for h in hits) == s7.sinkhole_first.replace(microsecond=0)
    assert logs.within(s7.file_access_first, s7.sinkhole_first, 30)
    assert s7.file_access_last is not None and s7.file_access_last < s7.sinkhole_first
    # The holiday of the default week is when it happens (R16).
    assert s7.file_access_first.astimezone(logs.JST).date() == date(2026, 11, 3)


def test_decoys_break_exactly_one_condition(world: World) -> None:
    decoys = {d.id: d for d in world.truth.decoys}
    ips = {d: p.ips for d, p in decoys.items()}

    a = decoys["D-a"]
    reads = _reads_of(world, a)
    assert reads and all(logs.off_hours(ts, world.working) and share == "\\\\FS01\\jinji"
                         for ts, _, share, _ in reads)
    assert not a.sinkhole_events
    assert not [h for h in world.sinkhole if h.fields["SRC"] == a.ip]

    a2 = decoys["D-a2"]
    reads = _reads_of(world, a2)
    assert reads and {share for _, _, share, _ in reads} == {"\\\\FS02\\jinji2"}
    assert all(logs.off_hours(ts, world.working) for ts, *_ in reads)
    assert not [h for h in world.sinkhole if h.fields["SRC"] == a2.ip]

    b = decoys["D-b"]
    hits = _sinkhole_of(world, b)
    assert hits and not b.file_events
    assert not [r for r in world.reads if r[1] == b.ip
                and timedelta(0) <= hits[0].ts - r[0] <= timedelta(hours=12)]

    c = decoys["D-c"]
    reads, hits = _reads_of(world, c), _sinkhole_of(world, c)
    assert reads and hits and {h.fields["SRC"] for h in hits} == {c.ip}
    assert all(logs.off_hours(ts, world.working) for ts, *_ in reads)
    assert min(h.ts for h in hits) - max(ts for ts, *_ in reads) > timedelta(hours=3)

    d = decoys["D-d"]
    reads, hits = _reads_of(world, d), _sinkhole_of(world, d)
    assert reads and hits and {h.fields["SRC"] for h in hits} == {d.ip}
    assert not any(logs.off_hours(ts, world.working) for ts, *_ in reads)
    assert logs.within(min(ts for ts, *_ in reads), min(h.ts for h in hits), 30)

    e = decoys["D-e"]
    reads, hits = _reads_of(world, e), _sinkhole_of(world, e)
    reader_ip, sender_ip = ips["D-e"]
    assert reader_ip != sender_ip
    assert {ip for _, ip, _, _ in reads} == {reader_ip}
    assert {h.fields["SRC"] for h in hits} == {sender_ip}
    assert all(logs.off_hours(ts, world.working) for ts, *_ in reads)
    assert logs.within(min(ts for ts, *_ in reads), min(h.ts for h in hits), 30)

    f = decoys["D-f"]
    reads, hits = _reads_of(world, f), _sinkhole_of(world, f)
    assert reads and {share for _, _, share, _ in reads} == {"\\\\FS01\\common"}
    assert all(rel.startswith("jinji_old\\") for *_, rel in reads)
    assert "\\\\FS01\\common" not in world.important
    assert {h.fields["SRC"] for h in hits} == {f.ip}
    assert logs.within(min(ts for ts, *_ in reads), min(h.ts for h in hits), 30)


def test_every_sinkhole_line_belongs_to_a_story(world: World) -> None:
    claimed = {(loc.file, loc.line) for p in (world.truth.s7, *world.truth.decoys)
               for loc in p.sinkhole_events}
    assert claimed == {(h.file, h.line) for h in world.sinkhole}


@pytest.mark.parametrize(("seed", "start"), [
    (7, DEFAULT_START),
    (1, DEFAULT_START),
    (2024, date(2026, 11, 23)),  # holiday on the Monday (Labour Thanksgiving Day)
    (5, date(2026, 11, 9)),  # no holiday: S7 happens on a working-day night
])
def test_reference_detector_finds_exactly_the_s7(tmp_path: Path, seed: int, start: date
                                                 ) -> None:
    truth = generate(tmp_path, seed=seed, start=start)
    hits = World(tmp_path, truth).detect_s7()
    assert hits, "the planted S7 instance must be detectable"
    assert {ip for ip, _ in hits} == {truth.s7.ip}
    assert min(ts for _, ts in hits) == truth.s7.sinkhole_first.replace(microsecond=0)
    # Widening the window to 60 minutes still must not pull in a decoy.
    assert {ip for ip, _ in World(tmp_path, truth).detect_s7(60)} == {truth.s7.ip}
