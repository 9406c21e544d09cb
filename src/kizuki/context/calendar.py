"""The business calendar: business hours, night, weekends and holidays (R16).

A legitimate user's file access at night or on a holiday counts more than the same
access in business hours. Times are judged in the calendar's zone (default
Asia/Tokyo); public holidays come from the ``holidays`` library (Japan by default)
and a company calendar adds its own closed days and extra working days on top.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from kizuki.context._yaml import KeyPath, YamlDoc, read_yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Holiday name languages per country: the first is shown, the second added in brackets.
NAME_LANGUAGES: dict[str, tuple[str, ...]] = {"JP": ("ja", "en_US")}
END_OF_DAY = dt.time.max


@lru_cache(maxsize=64)
def _public(country: str, subdiv: str | None, year: int, language: str | None) -> dict[
        dt.date, str]:
    """The public holidays of one country and year, in one language (cached)."""
    kwargs: dict[str, Any] = {"years": year}
    if subdiv:
        kwargs["subdiv"] = subdiv
    if language:
        kwargs["language"] = language
    table = holidays.country_holidays(country, **kwargs)
    return {day: str(name) for day, name in sorted(table.items())}


@dataclass(frozen=True, slots=True)
class Calendar:
    """When an organisation works, in its own zone.

    ``hours`` maps a weekday (0 = Monday) to its business hours; a weekday absent from
    it is not a working day (the weekend). ``closed`` are company closed days (with a
    name), ``working`` extra working days (a Saturday make-up day; hours of Monday
    unless that weekday has its own). ``night`` is ``(start, end)`` local time and may
    wrap midnight (default 22:00–05:00).
    """

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Tokyo"))
    hours: Mapping[int, tuple[dt.time, dt.time]] = field(
        default_factory=lambda: {d: (dt.time(9), dt.time(18)) for d in range(5)})
    night: tuple[dt.time, dt.time] = (dt.time(22), dt.time(5))
    country: str | None = "JP"
    subdivision: str | None = None
    closed: Mapping[dt.date, str] = field(default_factory=dict)
    working: frozenset[dt.date] = frozenset()

    # -- loading --------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Calendar:
        """Read a calendar YAML file (format in docs/scenarios.md)."""
        return cls.from_doc(read_yaml(Path(path)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "<calendar>") -> Calendar:
        """Build from a parsed mapping (the calendar.yaml shape)."""
        return cls.from_doc(YamlDoc(dict(data), {}, name))

    @classmethod
    def from_doc(cls, doc: YamlDoc) -> Calendar:
        data = doc.data or {}
        if not isinstance(data, dict):
            raise doc.error("a calendar is a mapping")
        zone = str(data.get("timezone") or "Asia/Tokyo")
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise doc.error(f"unknown time zone {zone!r}", ("timezone",)) from exc
        country = data.get("country", "JP")
        country = str(country).upper() if country else None
        if country is not None:
            try:
                _public(country, None, 2026, None)
            except NotImplementedError as exc:
                raise doc.error(f"no public holidays known for {country!r}", ("country",)) from exc
        workdays = data.get("workdays", list(WEEKDAYS[:5]))
        if not isinstance(workdays, list):
            raise doc.error("workdays is a list of weekday names", ("workdays",))
        days = [_weekday(doc, w, ("workdays", i)) for i, w in enumerate(workdays)]
        hours = _hours(doc, data.get("business_hours"), days)
        night = (dt.time(22), dt.time(5))
        if "night" in data:
            n = data["night"]
            if not isinstance(n, dict):
                raise doc.error("night is {start, end}", ("night",))
            night = (_time(doc, n.get("start", "22:00"), ("night", "start")),
                     _time(doc, n.get("end", "05:00"), ("night", "end")))
        closed: dict[dt.date, str] = {}
        for key in ("holidays", "closed"):
            for i, item in enumerate(data.get(key) or []):
                where: KeyPath = (key, i)
                if isinstance(item, dict):
                    day = _date(doc, item.get("date"), (*where, "date"))
                    closed[day] = str(item.get("name") or "closed")
                else:
                    closed[_date(doc, item, where)] = "closed"
        working = frozenset(_date(doc, d, ("working_days", i))
                            for i, d in enumerate(data.get("working_days") or []))
        return cls(tz=tz, hours=hours, night=night, country=country,
                   subdivision=data.get("subdivision"), closed=closed, working=working)

    # -- questions ------------------------------------------------------------------
    def local(self, ts: dt.datetime) -> dt.datetime:
        """``ts`` in the calendar's zone."""
        return ts.astimezone(self.tz)

    def public_holiday(self, day: dt.date) -> str | None:
        """The public holiday's name on ``day`` (``文化の日 (Culture Day)``), or None."""
        if self.country is None:
            return None
        langs = NAME_LANGUAGES.get(self.country, (None,))
        names = [_public(self.country, self.subdivision, day.year, lang).get(day)
                 for lang in langs]
        found = [n for n in names if n]
        if not found:
            return None
        return found[0] if len(found) == 1 or found[0] == found[1] else \
            f"{found[0]} ({found[1]})"

    def holiday_name(self, ts: dt.datetime) -> str | None:
        """The holiday (public, else company closed day) on ``ts``'s local date."""
        day = self.local(ts).date()
        if day in self.working:
            return None
        return self.public_holiday(day) or self.closed.get(day)

    def is_holiday(self, ts: dt.datetime) -> bool:
        """A public holiday or a company closed day (not an extra working day)."""
        return self.holiday_name(ts) is not None

    def is_weekend(self, ts: dt.datetime) -> bool:
        """A weekday that is not a working day (Saturday, Sunday by default)."""
        local = self.local(ts)
        return local.weekday() not in self.hours and local.date() not in self.working

    def is_night(self, ts: dt.datetime) -> bool:
        """Local time within the night interval (which may wrap midnight)."""
        t = self.local(ts).time()
        start, end = self.night
        if start <= end:
            return start <= t < end
        return t >= start or t < end

    def is_business_hours(self, ts: dt.datetime) -> bool:
        """A working day, not a holiday, within that day's business hours."""
        local = self.local(ts)
        day = local.date()
        span = self.hours.get(local.weekday())
        if day in self.working:
            span = span or self.hours.get(0) or (dt.time(9), dt.time(18))
        if span is None or self.is_holiday(ts):
            return False
        return span[0] <= local.time() < span[1]

    def is_off_hours(self, ts: dt.datetime) -> bool:
        """Anything outside business hours: evenings, nights, weekends, holidays."""
        return not self.is_business_hours(ts)


def _weekday(doc: YamlDoc, value: Any, key: KeyPath) -> int:
    text = str(value).strip().lower()[:3]
    if text not in WEEKDAYS:
        raise doc.error(f"unknown weekday {value!r} (mon..sun)", key)
    return WEEKDAYS.index(text)


def _time(doc: YamlDoc, value: Any, key: KeyPath) -> dt.time:
    """``"09:00"``; YAML 1.1 reads an unquoted ``18:00`` as the number 1080 (base 60)."""
    if isinstance(value, dt.time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        hours, minutes = divmod(value, 60)
    else:
        text = str(value).strip()
        try:
            h, _, m = text.partition(":")
            hours, minutes = int(h), int(m or 0)
        except ValueError as exc:
            raise doc.error(f"bad time {value!r} (HH:MM)", key) from exc
    if hours == 24 and minutes == 0:
        return END_OF_DAY
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise doc.error(f"bad time {value!r} (HH:MM)", key)
    return dt.time(hours, minutes)


def _date(doc: YamlDoc, value: Any, key: KeyPath) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise doc.error(f"bad date {value!r} (YYYY-MM-DD)", key) from exc


def _hours(doc: YamlDoc, value: Any, days: list[int]) -> dict[int, tuple[dt.time, dt.time]]:
    """``{start, end}`` for every working day, or per weekday ``{mon: {start, end}}``."""
    default = (dt.time(9), dt.time(18))
    if value is None:
        return {d: default for d in days}
    if not isinstance(value, dict):
        raise doc.error("business_hours is {start, end} or {mon: {start, end}, ...}",
                        ("business_hours",))
    if "start" in value or "end" in value:
        span = (_time(doc, value.get("start", "09:00"), ("business_hours", "start")),
                _time(doc, value.get("end", "18:00"), ("business_hours", "end")))
        return {d: span for d in days}
    out = {d: default for d in days}
    for name, item in value.items():
        key: KeyPath = ("business_hours", str(name))
        day = _weekday(doc, name, key)
        if item is None:
            out.pop(day, None)
            continue
        if not isinstance(item, dict):
            raise doc.error("a weekday's hours are {start, end}", key)
        out[day] = (_time(doc, item.get("start", "09:00"), (*key, "start")),
                    _time(doc, item.get("end", "18:00"), (*key, "end")))
    return out
