"""Field mapping and Windows logsource coverage, declared in ``pipeline.yaml`` (style §4, §7).

A Sigma rule names fields the way its log source does; Kizuki events keep those names in
``Event.original`` and add ECS names in ``Event.fields``. The pipeline says, per rule
logsource, which event fields a Sigma field reads, and which Windows event types carry
a Sigma category (Sysmon event ids, Security 4688 for ``process_creation``, ...), with
the field renames such an event type needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kizuki import yamlio
from kizuki.errors import ConfigError
from kizuki.model import LogSource


@dataclass(frozen=True, slots=True)
class Binding:
    """One Windows event type that carries a Sigma category, with its field renames."""

    category: str
    service: str
    event_ids: frozenset[int]
    fields: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        """A stable name for the rule variant compiled for this binding."""
        return f"{self.category}@{self.service}"


@dataclass(frozen=True, slots=True)
class _Mapping:
    product: str | None
    service: str | None
    category: str | None
    fields: dict[str, tuple[str, ...]]

    def applies(self, ls: LogSource) -> bool:
        return (
            (self.product is None or self.product == ls.product)
            and (self.service is None or self.service == ls.service)
            and (self.category is None or self.category == ls.category)
        )


class Pipeline:
    """The declared mapping between Sigma rules and Kizuki events."""

    def __init__(self, data: dict[str, Any], source: str = "pipeline.yaml") -> None:
        try:
            self._bindings = _read_bindings(data.get("windows_categories") or {})
            self._mappings = _read_mappings(data.get("mappings") or [])
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise ConfigError(f"invalid pipeline: {exc}", where=source) from exc
        # (category, service, event id) -> binding, for the per-event-type lookup.
        self._by_event: dict[tuple[str, str, int], Binding] = {}
        for bindings in self._bindings.values():
            for b in bindings:
                for eid in b.event_ids:
                    self._by_event[(b.category, b.service, eid)] = b

    @classmethod
    def default(cls) -> Pipeline:
        """The pipeline shipped with Kizuki (``kizuki/rules/pipeline.yaml``)."""
        text = resources.files("kizuki.rules").joinpath("pipeline.yaml").read_text("utf-8")
        return cls(yamlio.safe_load(text), "kizuki/rules/pipeline.yaml")

    @classmethod
    def from_file(cls, path: str | Path) -> Pipeline:
        """A pipeline read from a YAML file of the same shape as the built-in one."""
        p = Path(path)
        try:
            data = yamlio.safe_load(p.read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read pipeline: {exc}", where=str(p)) from exc
        return cls(data or {}, str(p))

    def bindings(self, category: str | None) -> list[Binding]:
        """The Windows event types that carry ``category`` (empty if none declared)."""
        return self._bindings.get(category or "", [])

    def binding_for(
        self, category: str, service: str | None, event_id: int | None
    ) -> Binding | None:
        """The binding of ``category`` for one event type, if the table has it."""
        if service is None or event_id is None:
            return None
        return self._by_event.get((category, service, event_id))

    def field_names(
        self, name: str, logsource: LogSource, binding: Binding | None = None
    ) -> tuple[str, ...]:
        """The event fields to try, in order, for Sigma field ``name`` of a rule."""
        if binding is not None and name in binding.fields:
            # A rename for one event type is exclusive: 4688's ProcessId is the
            # *parent*'s id, so falling back to the Sigma name would be wrong.
            return (binding.fields[name],)
        out: list[str] = []
        for m in self._mappings:
            if name in m.fields and m.applies(logsource):
                out.extend(n for n in m.fields[name] if n not in out)
        if name not in out:
            out.append(name)
        return tuple(out)


def _read_bindings(data: dict[str, Any]) -> dict[str, list[Binding]]:
    out: dict[str, list[Binding]] = {}
    for category, entries in data.items():
        out[str(category)] = [
            Binding(
                category=str(category),
                service=str(e["service"]).lower(),
                event_ids=frozenset(int(i) for i in e["event_ids"]),
                fields={str(k): str(v) for k, v in (e.get("fields") or {}).items()},
            )
            for e in entries
        ]
    return out


def _read_mappings(data: list[dict[str, Any]]) -> list[_Mapping]:
    out = []
    for entry in data:
        when = entry.get("when") or {}
        fields = {
            str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v]))
            for k, v in entry["fields"].items()
        }
        out.append(
            _Mapping(
                product=when.get("product"),
                service=when.get("service"),
                category=when.get("category"),
                fields=fields,
            )
        )
    return out
