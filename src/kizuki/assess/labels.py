"""Ground truth for ``kizuki eval``: which ATT&CK techniques each data file shows.

Two label formats ship with the public data sets (issue 4 item 4):

- ``MANIFEST.csv`` (``../shared/data``): columns ``path, source, licence, unit,
  techniques, label_note``; ``path`` is relative to the CSV's folder, ``techniques`` is
  ``;``-separated ATT&CK ids (may be empty), ``label_note`` says what an unlabelled
  file is (``benign-background``, ``tactic:...``, ``compound:...``).
- Security-Datasets metadata YAML (``datasets/atomic/_metadata/*.yaml``):
  ``attack_mappings: [{technique, sub-technique, tactics}]`` and ``files: [{link}]``;
  a link's part after ``/master/`` is the archive's path in the repository, found by
  walking up from the metadata file. A folder of such files is one labels source.

Labels of the same file from several sources are merged (techniques united).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kizuki import yamlio
from kizuki.errors import ConfigError

#: The label note of files known to hold no attack (evtx-rs samples).
BENIGN = "benign-background"
SD_SOURCE = "OTRF/Security-Datasets (metadata)"
_TECHNIQUE = re.compile(r"^T\d{4}(?:\.\d{3})?$")
_MANIFEST_COLUMNS = ("path", "techniques")


def normalize_technique(text: str) -> str | None:
    """``t1003.001`` → ``T1003.001``; None when it is not a technique id."""
    t = text.strip().upper()
    # T0000 is Security-Datasets' placeholder for "no technique", not an ATT&CK id.
    return t if _TECHNIQUE.match(t) and t != "T0000" else None


def parent(technique: str) -> str:
    """The parent technique of a sub-technique (``T1003.001`` → ``T1003``), else itself."""
    return technique.split(".", 1)[0]


def technique_covers(label: str, alert: str) -> bool:
    """Whether an alert carrying ``alert`` detects a file labelled ``label``.

    The same technique, its parent (a ``T1003`` alert on a ``T1003.001`` file), or one
    of its sub-techniques (a ``T1003.001`` alert on a ``T1003`` file) — never a sibling
    sub-technique (issue 4 "Done when").
    """
    return alert == label or alert == parent(label) or parent(alert) == label


@dataclass(frozen=True, slots=True)
class Label:
    """What is known of one data file: its techniques, notes and where it came from."""

    path: Path
    name: str
    techniques: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    source: str = ""

    @property
    def benign(self) -> bool:
        """Known to hold no attack: every alert on it needs an explanation."""
        return BENIGN in self.notes and not self.techniques

    @property
    def group(self) -> str:
        """The data set it belongs to, for per-set figures (``source`` without ``@rev``)."""
        return self.source.split("@", 1)[0].strip() or "(unknown)"

    def merged(self, other: Label) -> Label:
        notes = tuple(dict.fromkeys((*self.notes, *other.notes)))
        return Label(self.path, self.name, self.techniques | other.techniques, notes,
                     self.source or other.source)


@dataclass
class Labels:
    """Labels by resolved file path, in the order first seen."""

    by_path: dict[Path, Label] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def add(self, label: Label) -> None:
        key = label.path
        old = self.by_path.get(key)
        self.by_path[key] = label if old is None else old.merged(label)

    def extend(self, other: Labels) -> None:
        for label in other.by_path.values():
            self.add(label)
        self.sources.extend(other.sources)

    def __len__(self) -> int:
        return len(self.by_path)

    def __iter__(self) -> Iterator[Label]:
        return iter(self.by_path.values())

    def get(self, path: str | Path) -> Label | None:
        return self.by_path.get(Path(path).resolve())

    def under(self, roots: Iterable[str | Path]) -> list[Label]:
        """The labels of files at or below any of ``roots``, in label order."""
        resolved = [Path(r).resolve() for r in roots]
        return [lb for lb in self.by_path.values()
                if any(lb.path == r or r in lb.path.parents for r in resolved)]


def _techniques(raw: str) -> frozenset[str]:
    out = set()
    for part in raw.replace(",", ";").split(";"):
        t = normalize_technique(part)
        if t:
            out.add(t)
    return frozenset(out)


def load_manifest(path: str | Path) -> Labels:
    """Labels from a ``MANIFEST.csv`` (paths relative to the CSV's folder)."""
    p = Path(path)
    base = p.parent.resolve()
    out = Labels(sources=[str(p)])
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in _MANIFEST_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise ConfigError(f"labels CSV lacks column(s) {', '.join(missing)}",
                                  where=f"{p}:1")
            for row in reader:
                rel = (row.get("path") or "").strip()
                if not rel:
                    continue
                note = (row.get("label_note") or "").strip()
                file = Path(rel) if Path(rel).is_absolute() else base / rel
                out.add(Label(file.resolve(), rel, _techniques(row.get("techniques") or ""),
                              (note,) if note else (), (row.get("source") or "").strip()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read labels: {exc}", where=str(p)) from exc
    return out


def _sd_techniques(mappings: Any) -> frozenset[str]:
    out = set()
    for m in mappings or ():
        if not isinstance(m, dict) or not m.get("technique"):
            continue
        tech = str(m["technique"]).strip()
        sub = m.get("sub-technique")
        if sub is not None and str(sub).strip():
            # YAML reads an unquoted 001 as the integer 1.
            sub_text = f"{sub:03d}" if isinstance(sub, int) else str(sub).strip()
            tech = f"{tech}.{sub_text}"
        t = normalize_technique(tech)
        if t:
            out.add(t)
    return frozenset(out)


def _locate(meta: Path, rel: str) -> Path:
    """The local archive of a link's repository path: the first ancestor holding it."""
    for root in meta.resolve().parents:
        if (root / rel).exists():
            return (root / rel).resolve()
    parents = meta.resolve().parents
    # Not on disk: where it would be in a Security-Datasets checkout.
    return (parents[min(3, len(parents) - 1)] / rel).resolve()


def load_sd_metadata(path: str | Path) -> Labels:
    """Labels from one Security-Datasets metadata YAML file."""
    p = Path(path)
    out = Labels(sources=[str(p)])
    try:
        data = yamlio.safe_load(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read Security-Datasets metadata: {exc}",
                          where=str(p)) from exc
    if not isinstance(data, dict):
        return out
    techniques = _sd_techniques(data.get("attack_mappings"))
    note = f"sd:{data.get('id')}" if data.get("id") else ""
    for item in data.get("files") or ():
        link = str(item.get("link", "")) if isinstance(item, dict) else ""
        if "/master/" not in link:
            continue
        rel = link.split("/master/", 1)[1]
        out.add(Label(_locate(p, rel), rel, techniques, (note,) if note else (), SD_SOURCE))
    return out


def load_labels(path: str | Path) -> Labels:
    """Labels from a manifest CSV, a metadata YAML, or a folder of metadata YAML."""
    p = Path(path)
    if p.is_dir():
        out = Labels(sources=[str(p)])
        for file in sorted([*p.glob("*.yaml"), *p.glob("*.yml")]):
            part = load_sd_metadata(file)
            for label in part:
                out.add(label)
        return out
    if not p.exists():
        raise ConfigError("labels file not found", where=str(p))
    if p.suffix.lower() in (".yaml", ".yml"):
        return load_sd_metadata(p)
    return load_manifest(p)


def load_all(paths: Iterable[str | Path]) -> Labels:
    """Every labels source given (``--labels`` several times), merged."""
    out = Labels()
    for p in paths:
        out.extend(load_labels(p))
    return out


__all__ = [
    "BENIGN", "Label", "Labels", "load_all", "load_labels", "load_manifest",
    "load_sd_metadata", "normalize_technique", "parent", "technique_covers",
]
