"""Plain-Python readers of the demo's native formats, independent of kizuki.sources.

The tests check the generator's claims with these, so a bug in a Kizuki parser cannot
hide a bug in the demo data (and the other way round).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))}
_SYSLOG = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\S+) ([^:]+): (.*)$")
_KV = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True)
class Line:
    """One record: where it is, when (aware), and its fields."""

    file: str
    line: int
    offset: int
    ts: datetime
    fields: dict[str, Any]


def lines(path: Path) -> list[tuple[int, int, str]]:
    """(1-based line, byte offset, text) of every line of a file."""
    out = []
    offset = 0
    for n, raw in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
        out.append((n, offset, raw.decode("utf-8")))
        offset += len(raw) + 1
    return out


def syslog_ts(text: str, year: int) -> tuple[datetime, str, str, str]:
    """Timestamp (JST), host, tag and message of an RFC 3164 file line."""
    m = _SYSLOG.match(text)
    assert m, text
    mon, day, hh, mm, ss, host, tag, msg = m.groups()
    ts = datetime(year, _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=JST)
    return ts, host, tag, msg


def windows(root: Path, name: str) -> list[Line]:
    out = []
    for n, off, text in lines(root / name):
        doc = json.loads(text)
        ts = datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00"))
        out.append(Line(name, n, off, ts, doc))
    return out


def iptables(root: Path, name: str, year: int) -> list[Line]:
    out = []
    for n, off, text in lines(root / name):
        ts, host, tag, msg = syslog_ts(text, year)
        assert tag == "kernel"
        prefix = msg.split("] ", 1)[1].split("IN=", 1)[0].strip()
        fields: dict[str, Any] = dict(_KV.findall(msg))
        fields["prefix"], fields["host"] = prefix, host
        out.append(Line(name, n, off, ts, fields))
    return out


def samba(root: Path, name: str, year: int) -> list[Line]:
    out = []
    for n, off, text in lines(root / name):
        ts, host, tag, msg = syslog_ts(text, year)
        assert tag == "smbd_audit"
        user, ip, machine, share, op, status, *args = msg.split("|")
        out.append(Line(name, n, off, ts, {"user": user, "ip": ip, "machine": machine,
                                            "share": share, "op": op, "status": status,
                                            "args": args, "host": host}))
    return out


def zeek(root: Path, name: str) -> tuple[list[str], list[Line]]:
    header: list[str] = []
    out = []
    fields: list[str] = []
    for n, off, text in lines(root / name):
        if text.startswith("#"):
            header.append(text)
            if text.startswith("#fields\t"):
                fields = text.split("\t")[1:]
            continue
        values = text.split("\t")
        assert len(values) == len(fields), text
        rec = dict(zip(fields, values, strict=True))
        out.append(Line(name, n, off, datetime.fromtimestamp(float(rec["ts"]), UTC), rec))
    return header, out


_COMBINED = re.compile(r'^(\S+) - (\S+) \[([^\]]+)\] "(\S+) (\S+) HTTP/1\.1" (\d{3}) (\d+) '
                       r'"([^"]*)" "([^"]*)"$')


def proxy(root: Path, name: str) -> list[Line]:
    out = []
    for n, off, text in lines(root / name):
        m = _COMBINED.match(text)
        assert m, text
        ts = datetime.strptime(m.group(3), "%d/%b/%Y:%H:%M:%S %z")
        out.append(Line(name, n, off, ts, {"client": m.group(1), "user": m.group(2),
                                            "method": m.group(4), "target": m.group(5),
                                            "status": int(m.group(6))}))
    return out


def off_hours(ts: datetime, working_days: set[date]) -> bool:
    """R16: outside 09:00-18:00 local, or on a day nobody works."""
    local = ts.astimezone(JST)
    return local.date() not in working_days or not time(9) <= local.time() < time(18)


def within(a: datetime, b: datetime, minutes: float) -> bool:
    """``b`` comes at or after ``a`` and at most ``minutes`` later."""
    return timedelta(0) <= b - a <= timedelta(minutes=minutes)
