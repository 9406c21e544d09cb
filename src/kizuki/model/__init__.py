"""The normalized event model shared by every part of Kizuki (R10, R11)."""

from kizuki.model.event import Event, LogSource, Origin

__all__ = ["Event", "LogSource", "Origin"]
