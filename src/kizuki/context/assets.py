"""The asset inventory: which host is whose, where, how critical, with which shares (R31).

Hosts are keyed by :func:`kizuki.detect.entities.host_key` (case-insensitive short
name), so ``FS01``, ``fs01`` and ``FS01.corp.example.jp`` are one asset; an address
leads to its host through :meth:`Assets.by_ip`. Criticality is a tier 1–4 or its name:
tier 1 = critical, 2 = high, 3 = medium, 4 = low.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kizuki.context._yaml import KeyPath, YamlDoc, read_yaml
from kizuki.detect.entities import host_key, ip_key, user_key
from kizuki.errors import ConfigError

#: Criticality names by rank (higher is more critical).
CRITICALITY = ("low", "medium", "high", "critical")
_TIERS = {"1": "critical", "2": "high", "3": "medium", "4": "low"}


def criticality_name(value: Any) -> str | None:
    """``critical``/``high``/``medium``/``low`` from a name, ``tier 1`` or ``1``; else None."""
    if value is None:
        return None
    text = str(value).strip().lower().removeprefix("tier").strip()
    if text in _TIERS:
        return _TIERS[text]
    return text if text in CRITICALITY else None


def role_name(value: Any) -> str | None:
    """One spelling of an asset role: ``Domain-Controller`` → ``domain_controller``."""
    if value is None:
        return None
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return text or None


def criticality_rank(name: str | None) -> int:
    """1 (low) … 4 (critical); 0 for unknown."""
    return CRITICALITY.index(name) + 1 if name in CRITICALITY else 0


@dataclass(frozen=True, slots=True)
class Share:
    """A file share of a server; ``important`` shares hold the data S7 protects."""

    name: str
    unc: str | None = None
    local_path: str | None = None
    important: bool = False
    purpose: str | None = None

    def covers_path(self, path: str) -> bool:
        """``path`` (a local path on the server or a UNC path) lies in this share."""
        low = path.lower().removeprefix("\\??\\")
        for root in (self.local_path, self.unc):
            if not root:
                continue
            r = root.lower().rstrip("\\/")
            if low == r or low.startswith((r + "\\", r + "/")):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Asset:
    """One host of the inventory."""

    host: str
    fqdn: str | None = None
    ips: tuple[str, ...] = ()
    owner: str | None = None
    zone: str | None = None
    criticality: str | None = None
    role: str | None = None
    os: str | None = None
    shares: tuple[Share, ...] = ()

    @property
    def key(self) -> str:
        return host_key(self.host)

    @property
    def rank(self) -> int:
        return criticality_rank(self.criticality)

    def share(self, name: str | None = None, path: str | None = None) -> Share | None:
        """The share named ``name`` (``jinji``, ``\\\\*\\jinji``) or covering ``path``."""
        if name:
            short = name.replace("/", "\\").rstrip("\\").rsplit("\\", 1)[-1].lower()
            for s in self.shares:
                if s.name.lower() == short:
                    return s
        if path:
            for s in self.shares:
                if s.covers_path(path):
                    return s
        return None

    def summary(self) -> dict[str, str]:
        """The fields an alert's context shows."""
        out = {"host": self.host}
        for k in ("criticality", "role", "zone", "owner"):
            v = getattr(self, k)
            if v:
                out[k] = v
        return out


@dataclass
class Assets:
    """The inventory: host → :class:`Asset`, address → host."""

    assets: list[Asset] = field(default_factory=list)
    _by_host: dict[str, Asset] = field(default_factory=dict, repr=False)
    _by_ip: dict[str, Asset] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for a in self.assets:
            self._add(a)

    def _add(self, a: Asset) -> None:
        self._by_host.setdefault(a.key, a)
        if a.fqdn:
            self._by_host.setdefault(host_key(a.fqdn), a)
        for ip in a.ips:
            self._by_ip.setdefault(ip_key(ip), a)

    def __len__(self) -> int:
        return len(self.assets)

    def __iter__(self) -> Iterator[Asset]:
        return iter(self.assets)

    def get(self, host: str | None) -> Asset | None:
        """The asset of a host name (any spelling) or of an address."""
        if not host:
            return None
        key = host_key(host)
        return self._by_host.get(key) or self._by_ip.get(key)

    def by_ip(self, ip: str | None) -> Asset | None:
        """The asset that holds address ``ip``."""
        return self._by_ip.get(ip_key(ip)) if ip else None

    def host_of_ip(self, ip: str | None) -> str | None:
        """The host key of address ``ip``, or None when the inventory does not know it."""
        a = self.by_ip(ip)
        return a.key if a is not None else None

    def owned_by(self, user: str) -> list[Asset]:
        """The assets whose owner is ``user`` (any spelling)."""
        u = user_key(user)
        return [a for a in self.assets if a.owner and user_key(a.owner) == u]

    def important_shares(self) -> list[str]:
        """UNC names of every important share."""
        return [s.unc or f"\\\\{a.host}\\{s.name}" for a in self.assets for s in a.shares
                if s.important]

    # -- loading --------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Assets:
        """Read assets from YAML (``assets: [...]``) or CSV (one row per host)."""
        p = Path(path)
        if p.suffix.lower() == ".csv":
            try:
                text = p.read_text("utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read: {exc}", where=str(p)) from exc
            return cls.from_csv(text, str(p))
        return cls.from_doc(read_yaml(p))

    @classmethod
    def from_doc(cls, doc: YamlDoc) -> Assets:
        data = doc.data
        base: KeyPath = ()
        if isinstance(data, dict):
            data, base = data.get("assets") or [], ("assets",)
        if not isinstance(data, list):
            raise doc.error("assets is a list of hosts", base)
        return cls([_asset(doc, item, (*base, i)) for i, item in enumerate(data)])

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], name: str = "<assets>") -> Assets:
        """Build from plain mappings (the YAML item shape)."""
        doc = YamlDoc(None, {}, name)
        return cls([_asset(doc, item, (i,)) for i, item in enumerate(records)])

    @classmethod
    def from_csv(cls, text: str, name: str = "<assets.csv>") -> Assets:
        """Columns host, fqdn, ip (several split by ``;`` or space), owner, zone,
        criticality, role, os."""
        doc = YamlDoc(None, {}, name)
        out: list[Asset] = []
        for i, row in enumerate(csv.DictReader(io.StringIO(text))):
            item: dict[str, Any] = {k.strip().lower(): (v or "").strip()
                                    for k, v in row.items() if k}
            item["ip"] = item.get("ip", "").replace(";", " ").split()
            doc.lines[(i,)] = i + 2
            out.append(_asset(doc, {k: v for k, v in item.items() if v}, (i,)))
        return cls(out)


def _asset(doc: YamlDoc, item: Any, key: KeyPath) -> Asset:
    if not isinstance(item, dict) or not item.get("host"):
        raise doc.error("an asset is a mapping with at least 'host'", key)
    ips = item.get("ips", item.get("ip")) or []
    if isinstance(ips, str):
        ips = ips.replace(";", " ").replace(",", " ").split()
    crit = item.get("criticality", item.get("tier"))
    name = criticality_name(crit)
    if crit is not None and name is None:
        raise doc.error(f"unknown criticality {crit!r} (1-4 or critical/high/medium/low)",
                        (*key, "criticality"))
    shares = []
    for j, s in enumerate(item.get("shares") or []):
        if not isinstance(s, dict) or not s.get("name"):
            raise doc.error("a share is a mapping with at least 'name'", (*key, "shares", j))
        shares.append(Share(name=str(s["name"]), unc=s.get("unc"), local_path=s.get("local_path"),
                            important=bool(s.get("important", False)), purpose=s.get("purpose")))
    return Asset(
        host=str(item["host"]),
        fqdn=item.get("fqdn"),
        ips=tuple(str(x) for x in ips),
        owner=str(item["owner"]) if item.get("owner") else None,
        zone=item.get("zone"),
        criticality=name,
        role=role_name(item.get("role")),
        os=item.get("os"),
        shares=tuple(shares),
    )
