"""A seeded, realistic week of a small Japanese organisation's logs, with known answers.

``generate(out_dir)`` writes one week (Mon–Sun, Asia/Tokyo) of Windows Security and
Sysmon events (Winlogbeat 8 JSON lines), Samba full_audit, boundary-firewall and
sinkhole iptables lines, proxy access log and Zeek dns.log, each in its native format;
the context files the engine reads (``context/assets.yaml``, ``context/zones.yaml``,
``context/calendar.yaml``); and ``ground_truth.json``: the one planted S7 instance
(off-hours staging, R16) and the decoys that must not raise it. Only
``random.Random(seed)`` is used, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import yaml

from kizuki.demo.ambient import BenignNight, servers_day, workday
from kizuki.demo.formats import zeek_dns_header, zeek_stamp
from kizuki.demo.incidents import Story, choose_cast, plant
from kizuki.demo.logbook import Location, Logbook
from kizuki.demo.sim import DNS, Sim
from kizuki.demo.truth import BenignOffHours, GroundTruth, Planted, asset_dict
from kizuki.demo.world import (
    BUSINESS_END,
    BUSINESS_START,
    GENERAL_CIDRS,
    HOST_BY_NAME,
    HOSTS,
    PEOPLE,
    PROTECTED_CIDRS,
    SHARES,
    SINKHOLE_CIDRS,
    TIMEZONE,
    week,
)

__all__ = ["DEFAULT_SEED", "DEFAULT_START", "GroundTruth", "Location", "Planted", "generate"]

#: A Monday whose week holds a Japanese public holiday (Tue 2026-11-03, Culture Day).
DEFAULT_START = date(2026, 11, 2)
DEFAULT_SEED = 7
GROUND_TRUTH = "ground_truth.json"


def generate(out_dir: Path, *, seed: int = DEFAULT_SEED,
             start: date = DEFAULT_START) -> GroundTruth:
    """Write the demo week into ``out_dir`` and return what it contains.

    ``start`` is the first of the seven days (a Monday by convention; any date works).
    Existing files of the same names are overwritten; other files are left alone.
    """
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    book = Logbook()
    days = week(start)
    sim = Sim(rng, book, days[0].at(0))
    cast = choose_cast(rng, days)

    benign: list[BenignNight] = []
    first_working = next(d for d in days if d.working)
    for day in days:
        benign += servers_day(sim, day)
        if not day.working:
            continue
        for person in PEOPLE:
            if (person.user, day.index) in cast.absent:
                continue
            late = workday(sim, day, person, overtime_ok=person.user not in cast.actors,
                           lockout=person is cast.lockout and day is first_working)
            if late is not None:
                benign.append(late)
    stories = plant(sim, cast)

    end = days[-1].at(24)
    last = max(e.ts for e in book.entries.get(DNS, []))
    closed = max(end, last + timedelta(seconds=1))
    book.frame(DNS, zeek_dns_header(days[0].at(0)), [f"#close\t{zeek_stamp(closed)}"])
    where, infos = book.write(out_dir, closed)

    truth = GroundTruth(
        seed=seed,
        start=days[0].date,
        end=days[-1].date + timedelta(days=1),
        timezone=TIMEZONE,
        business_hours=(BUSINESS_START.isoformat("minutes"), BUSINESS_END.isoformat("minutes")),
        holidays=tuple((d.date, d.holiday) for d in days if d.holiday is not None),
        working_days=tuple(d.date for d in days if d.working),
        assets=HOSTS,
        zones={"protected": PROTECTED_CIDRS, "general": GENERAL_CIDRS,
               "sinkhole": SINKHOLE_CIDRS},
        important_shares=tuple(s.unc for s in SHARES if s.important),
        s7=_resolve(stories[0], where),
        decoys=tuple(_resolve(s, where) for s in stories[1:]),
        benign_off_hours=tuple(
            BenignOffHours(b.kind, b.host, b.user, b.start, b.end)
            for b in sorted(benign, key=lambda b: (b.start, b.host))
        ),
        files=infos,
    )
    _write_context(out_dir, truth)
    (out_dir / GROUND_TRUTH).write_text(truth.to_json(), encoding="utf-8")
    return truth


def _resolve(story: Story, where: dict[int, Location]) -> Planted:
    def locs(handles: list[int]) -> tuple[Location, ...]:
        return tuple(sorted((where[h] for h in handles), key=lambda loc: (loc.file, loc.line)))

    return Planted(
        id=story.id, kind=story.kind, description=story.description,
        expect_alert=story.expect_alert, hosts=tuple(story.hosts),
        ips=tuple(HOST_BY_NAME[h].ip for h in story.hosts), users=tuple(story.users),
        files=tuple(story.files), file_access_first=story.file_access_first,
        file_access_last=story.file_access_last, sinkhole_first=story.sinkhole_first,
        sinkhole_host=story.sinkhole_host, destination=story.destination,
        file_events=locs(story.file_handles), sinkhole_events=locs(story.sinkhole_handles),
        supporting=locs(story.support_handles),
    )


def _dump(path: Path, comment: str, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    path.write_text(f"# {comment}\n{text}", encoding="utf-8")


def _write_context(out_dir: Path, truth: GroundTruth) -> None:
    """The context files the engine reads beside the logs (assets, zones, calendar)."""
    ctx = out_dir / "context"
    _dump(ctx / "assets.yaml", "Asset inventory of the demo organisation (kizuki demo).",
          {"assets": [asset_dict(h) for h in truth.assets]})
    _dump(ctx / "zones.yaml", "Network zones (R23): no default route from 'protected'; "
          "'sinkhole' is the dummy default-route device (R3).",
          {"zones": {k: list(v) for k, v in truth.zones.items()}})
    _dump(ctx / "calendar.yaml", "Business calendar: outside these hours, on weekends and "
          "on holidays is off-hours (R16).",
          {"timezone": truth.timezone, "country": "JP",
           "business_hours": {"start": truth.business_hours[0],
                              "end": truth.business_hours[1]},
           "workdays": ["mon", "tue", "wed", "thu", "fri"],
           "holidays": [{"date": d.isoformat(), "name": n} for d, n in truth.holidays]})
