"""The normalized event model shared by every part of Kizuki (R10, R11)."""

from kizuki.model.alert import Alert, AlertKind, Evidence
from kizuki.model.event import Event, LogSource, Origin

__all__ = ["Alert", "AlertKind", "Event", "Evidence", "LogSource", "Origin"]
