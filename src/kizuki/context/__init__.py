"""Context for detection: calendars, assets and network zones (R16, R23, R31).

``Context.load(dir)`` reads ``calendar.yaml``, ``assets.yaml`` (or ``assets.csv``) and
``zones.yaml`` as ``kizuki demo generate`` writes them; formats in docs/scenarios.md.
"""

from kizuki.context.assets import (
    CRITICALITY,
    Asset,
    Assets,
    Share,
    criticality_name,
    criticality_rank,
)
from kizuki.context.calendar import Calendar
from kizuki.context.context import Context
from kizuki.context.zones import Zones

__all__ = [
    "CRITICALITY",
    "Asset",
    "Assets",
    "Calendar",
    "Context",
    "Share",
    "Zones",
    "criticality_name",
    "criticality_rank",
]
