"""Network zones: protected, general, sinkhole, … as CIDR lists (R3, R23)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kizuki.context._yaml import YamlDoc, read_yaml

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Zones:
    """Zone name → networks; :meth:`zone_of` answers with the most specific match."""

    zones: dict[str, tuple[Network, ...]] = field(default_factory=dict)
    _table: list[tuple[Network, str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # Longest prefix first, then name: one answer whatever the file's order.
        self._table = sorted(((n, z) for z, nets in self.zones.items() for n in nets),
                             key=lambda t: (-t[0].prefixlen, t[1]))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Sequence[str]]) -> Zones:
        """``{"protected": ["10.1.0.0/16"], ...}``."""
        return cls({z: tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
                    for z, cidrs in data.items()})

    @classmethod
    def load(cls, path: str | Path) -> Zones:
        """Read ``zones: {name: [cidr, ...]}`` (or ``{name: {cidrs: [...]}}``)."""
        return cls.from_doc(read_yaml(Path(path)))

    @classmethod
    def from_doc(cls, doc: YamlDoc) -> Zones:
        data: Any = doc.data or {}
        if isinstance(data, dict) and "zones" in data:
            data = data["zones"] or {}
        if not isinstance(data, dict):
            raise doc.error("zones is a mapping of zone name to CIDRs", ("zones",))
        out: dict[str, tuple[Network, ...]] = {}
        for name, value in data.items():
            key = ("zones", str(name))
            if isinstance(value, dict):
                value = value.get("cidrs", [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise doc.error("a zone is a list of CIDRs", key)
            nets: list[Network] = []
            for i, cidr in enumerate(value):
                try:
                    nets.append(ipaddress.ip_network(str(cidr), strict=False))
                except ValueError as exc:
                    raise doc.error(f"bad CIDR {cidr!r}", (*key, i)) from exc
            out[str(name)] = tuple(nets)
        return cls(out)

    def zone_of(self, ip: str | None) -> str | None:
        """The zone holding address ``ip`` (most specific network wins), or None."""
        if not ip:
            return None
        try:
            addr = ipaddress.ip_address(str(ip).strip())
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        for net, name in self._table:
            if addr.version == net.version and addr in net:
                return name
        return None
