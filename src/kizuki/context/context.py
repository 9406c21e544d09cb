"""Context bundled: the calendar, the asset inventory and the network zones (R16)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kizuki.context.assets import Asset, Assets
from kizuki.context.calendar import Calendar
from kizuki.context.zones import Zones
from kizuki.detect.entities import host_key
from kizuki.errors import ConfigError


@dataclass
class Context:
    """What turns normal events abnormal: when (calendar), what (assets), where (zones)."""

    calendar: Calendar = field(default_factory=Calendar)
    assets: Assets = field(default_factory=Assets)
    zones: Zones = field(default_factory=Zones)

    @classmethod
    def load(cls, directory: str | Path) -> Context:
        """Read ``assets.yaml`` (or ``.yml`` / ``.csv``), ``zones.yaml`` and
        ``calendar.yaml`` from ``directory``; a missing file leaves the default."""
        d = Path(directory)
        if not d.is_dir():
            raise ConfigError("context directory not found", where=str(d))
        ctx = cls()
        found = _first(d, "calendar")
        if found is not None:
            ctx.calendar = Calendar.load(found)
        found = _first(d, "assets", csv=True)
        if found is not None:
            ctx.assets = Assets.load(found)
        found = _first(d, "zones")
        if found is not None:
            ctx.zones = Zones.load(found)
        return ctx

    def asset(self, name_or_ip: str | None) -> Asset | None:
        """The asset of a host name (any spelling) or address."""
        return self.assets.get(name_or_ip)

    def zone_of(self, name_or_ip: str | None) -> str | None:
        """The zone of an address (by CIDR, else by its asset) or of a host (its asset)."""
        if not name_or_ip:
            return None
        zone = self.zones.zone_of(name_or_ip)
        if zone is not None:
            return zone
        a = self.assets.get(name_or_ip)
        if a is None:
            return None
        if a.zone:
            return a.zone
        for ip in a.ips:
            zone = self.zones.zone_of(ip)
            if zone is not None:
                return zone
        return None

    def host_of(self, ip: str | None) -> str | None:
        """The host key behind an address: the inventory's, else the address itself."""
        if not ip:
            return None
        return self.assets.host_of_ip(ip) or host_key(ip)


def _first(d: Path, stem: str, *, csv: bool = False) -> Path | None:
    suffixes = (".yaml", ".yml", ".csv") if csv else (".yaml", ".yml")
    for suffix in suffixes:
        p = d / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None
