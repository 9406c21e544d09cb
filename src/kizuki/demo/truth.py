"""What the demo week really contains, for tests, demos and detection scoring.

:class:`GroundTruth` is returned by :func:`kizuki.demo.generate` and written beside the
logs as ``ground_truth.json``. Times are aware datetimes (written in Asia/Tokyo ISO
8601); every planted record is located by file, 1-based line and byte offset (and for
Windows events also ``record_id`` and computer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kizuki.demo.logbook import FileInfo, Location
from kizuki.demo.world import TZ, Host


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(TZ).isoformat(timespec="milliseconds") if ts else None


@dataclass(frozen=True, slots=True)
class Planted:
    """The S7 instance or one decoy: who, when, and the records that make it up.

    ``events`` are the records a detection must join (file accesses and sinkhole hits);
    ``supporting`` are related records an analyst would also look at (logons, Sysmon
    process, DNS and connection events).
    """

    id: str
    kind: str
    description: str
    expect_alert: bool
    hosts: tuple[str, ...]
    ips: tuple[str, ...]
    users: tuple[str, ...]
    files: tuple[str, ...]
    file_access_first: datetime | None
    file_access_last: datetime | None
    sinkhole_first: datetime | None
    sinkhole_host: str | None
    destination: str | None
    file_events: tuple[Location, ...]
    sinkhole_events: tuple[Location, ...]
    supporting: tuple[Location, ...]

    @property
    def host(self) -> str:
        """The PC of the story (the one that read the files, if any)."""
        return self.hosts[0]

    @property
    def ip(self) -> str:
        return self.ips[0]

    @property
    def user(self) -> str:
        return self.users[0]

    @property
    def events(self) -> tuple[Location, ...]:
        """The records that make up the chain: file accesses, then sinkhole hits."""
        return self.file_events + self.sinkhole_events

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "description": self.description,
            "expect_alert": self.expect_alert,
            "host": self.host,
            "ip": self.ip,
            "user": self.user,
            "hosts": list(self.hosts),
            "ips": list(self.ips),
            "users": list(self.users),
            "files": list(self.files),
            "file_access_first": _iso(self.file_access_first),
            "file_access_last": _iso(self.file_access_last),
            "sinkhole_first": _iso(self.sinkhole_first),
            "sinkhole_host": self.sinkhole_host,
            "destination": self.destination,
            "events": [loc.to_dict() for loc in self.events],
            "file_events": [loc.to_dict() for loc in self.file_events],
            "sinkhole_events": [loc.to_dict() for loc in self.sinkhole_events],
            "supporting": [loc.to_dict() for loc in self.supporting],
        }


@dataclass(frozen=True, slots=True)
class BenignOffHours:
    """An ordinary off-hours activity (overtime, nightly backup) that must not alert."""

    kind: str
    host: str
    user: str
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "host": self.host, "user": self.user,
                "start": _iso(self.start), "end": _iso(self.end)}


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """The demo week: its calendar, the assets, the one S7 instance and the decoys."""

    seed: int
    start: date
    end: date  # exclusive: start + 7 days
    timezone: str
    business_hours: tuple[str, str]
    holidays: tuple[tuple[date, str], ...]
    working_days: tuple[date, ...]
    assets: tuple[Host, ...]
    zones: dict[str, tuple[str, ...]]
    important_shares: tuple[str, ...]
    s7: Planted
    decoys: tuple[Planted, ...]
    benign_off_hours: tuple[BenignOffHours, ...]
    files: dict[str, FileInfo]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "business_hours": {"start": self.business_hours[0],
                               "end": self.business_hours[1]},
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in self.holidays],
            "working_days": [d.isoformat() for d in self.working_days],
            "assets": [asset_dict(h) for h in self.assets],
            "zones": {k: list(v) for k, v in self.zones.items()},
            "important_shares": list(self.important_shares),
            "s7": self.s7.to_dict(),
            "decoys": [d.to_dict() for d in self.decoys],
            "benign_off_hours": [b.to_dict() for b in self.benign_off_hours],
            "files": {name: info.to_dict() for name, info in sorted(self.files.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


def asset_dict(host: Host) -> dict[str, Any]:
    """One asset as the context file and the ground truth describe it."""
    out: dict[str, Any] = {
        "host": host.name, "fqdn": host.fqdn, "ip": host.ip, "owner": host.owner,
        "zone": host.zone, "criticality": host.criticality, "role": host.role, "os": host.os,
        "mac": host.mac,
    }
    if host.shares:
        out["shares"] = [
            {"name": s.name, "unc": s.unc, "local_path": s.local_path,
             "important": s.important, "purpose": s.purpose}
            for s in host.shares
        ]
    return out
