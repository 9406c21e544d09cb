"""Helpers the report writers share: display zone, local times, severity order and colour."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from kizuki.model import Alert
from kizuki.model.alert import SEVERITIES

#: The display zone when none is given (requirements: operators work in Japan time).
DEFAULT_TZ = "Asia/Tokyo"

#: Colours per severity, shared by the terminal table and the HTML report.
SEVERITY_COLOURS = {
    "informational": "#6b7280",
    "low": "#2563eb",
    "medium": "#d97706",
    "high": "#dc2626",
    "critical": "#7e22ce",
}
#: Rich styles per severity.
SEVERITY_STYLES = {
    "informational": "dim",
    "low": "blue",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on magenta",
}


def zone(tz: tzinfo | str | None) -> tzinfo:
    """A tzinfo from a zone, a zone name, or ``None`` (Asia/Tokyo)."""
    if tz is None:
        return ZoneInfo(DEFAULT_TZ)
    if isinstance(tz, str):
        return ZoneInfo(tz)
    return tz


def local(ts: datetime, tz: tzinfo, *, micro: bool = False) -> str:
    """``ts`` in the display zone, with the zone's abbreviation."""
    shown = ts.astimezone(tz)
    text = shown.strftime("%Y-%m-%d %H:%M:%S")
    if micro and shown.microsecond:
        text += f".{shown.microsecond:06d}"
    return f"{text} {shown.strftime('%Z')}"


def severity_rank(severity: str) -> int:
    """Position in the Sigma level order (unknown levels sort as medium)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 2


def ordered(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts in timeline order: first seen, then last seen, then id (deterministic)."""
    return sorted(alerts, key=lambda a: (a.first_seen, a.last_seen, a.id))
