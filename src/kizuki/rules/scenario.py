"""The scenario format: Kizuki's extension of Sigma correlation (R15, R16; docs/scenarios.md).

A scenario is a YAML document with ordered ``stages`` on one ``entity`` (host, user or
address). Each stage names Sigma rules or correlations (or carries an inline Sigma
detection), the ``within`` window from the previous stage, how its events join the
chain (``entity``, ``pivot``), whether it must *not* happen (``absent``) and the context
that must hold (night, holiday, asset criticality, zone, important share). The document
is checked against ``scenario.schema.json`` (with ``jsonschema`` when installed, else a
small validator for the same schema) and compiled once into frozen dataclasses; every
error names the file, the line and the key.

A scenario folder (``scenarios/S4/``) holds the scenario file and the Sigma rules only
it reads; building blocks several scenarios read live once in ``scenarios/common/``.
``load_scenarios`` tells them apart (a scenario document has ``stages``) and returns
both, with the Sigma correlations found beside them, so the caller can put the rules
into the engine's ``RuleIndex`` and the correlations into a ``CorrelationDetector``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from sigma.correlations import SigmaCorrelationRule

from kizuki.context._yaml import KeyPath, YamlDoc, parse_yaml_all
from kizuki.context.assets import criticality_name, criticality_rank, role_name
from kizuki.errors import ConfigError
from kizuki.model.alert import BUILDING_BLOCK, SEVERITY_SCORE
from kizuki.rules.compile import CompiledRule
from kizuki.rules.sigma import RULE_SUFFIXES, load_ruleset, rule_files, rules_from_yaml

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")
ENTITY_TYPES = ("host", "user", "ip")
#: The field a stage reads its key from when it says nothing (per entity type).
DEFAULT_FIELDS = {"host": ("host.name",), "user": ("user.name",), "ip": ("source.ip",)}
DEFAULT_WINDOW = timedelta(hours=1)
DEFAULT_MERGE = timedelta(minutes=30)
DEFAULT_LINK_TTL = timedelta(hours=12)
#: A namespace for the ids of inline stage rules (stable across runs).
_INLINE_NS = uuid.UUID("6f0b3c1e-4d1a-5c2b-9a57-6b697a756b69")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CRIT = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*(\w+)\s*$")


class ScenarioError(ConfigError):
    """A scenario file or one scenario in it is invalid; says file, line and key."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None, scenario_id: str | None = None) -> None:
        self.path, self.line, self.key, self.scenario_id = path, line, key, scenario_id
        where = f"{path}:{line}" if path is not None and line is not None else path
        super().__init__(f"{message} (key {key})" if key else message, where=where)


def parse_duration(value: Any) -> timedelta:
    """``30m``, ``2h``, ``45s``, ``1d``, ``1w``, ``500ms`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if m is None:
        raise ValueError(f"bad duration {value!r} (e.g. 30m, 2h, 45s, 1d)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


# --------------------------------------------------------------------------- compiled form
@dataclass(frozen=True, slots=True)
class Link:
    """A join learned from events: ``key`` fields of a ``rules`` event → its ``value``.

    S7 uses one to tie a Windows logon session (server, logon id) to the client address
    of its type 3 logon, so that 4663 events, which carry no address, find their PC.
    """

    name: str
    rules: tuple[str, ...]
    key: tuple[str, ...]
    value: str
    ttl: timedelta = DEFAULT_LINK_TTL


@dataclass(frozen=True, slots=True)
class EntitySource:
    """Where a stage's event gets its chain key: a field, or a link looked up by fields."""

    field: str | None = None
    link: str | None = None
    key: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """The context a stage's event must be in (every part given must hold)."""

    time: tuple[str, ...] = ()
    criticality: tuple[str, int] | None = None
    asset: str = "host.name"
    zone: tuple[str, ...] = ()
    zone_of: tuple[str, ...] = ()
    share: str | None = None
    #: Roles (assets.yaml ``role``, one spelling: ``domain_controller``) the asset of
    #: ``role_of`` must have (any of) / must not have.
    role: tuple[str, ...] = ()
    not_role: tuple[str, ...] = ()
    #: The fields naming that asset, first known asset wins (``entity``: the chain's
    #: entity); default ``host.name``, the host that logged the event.
    role_of: tuple[str, ...] = ()
    #: Roles the chain's own entity must have / must not have.
    entity_role: tuple[str, ...] = ()
    entity_not_role: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.time:
            out["time"] = list(self.time)
        if self.criticality:
            out["asset_criticality"] = f"{self.criticality[0]} {self.criticality[1]}"
        if self.zone:
            out["zone"] = list(self.zone)
        if self.share:
            out["share"] = self.share
        for key in ("role", "not_role", "role_of", "entity_role", "entity_not_role"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        return out


@dataclass(frozen=True, slots=True)
class Pivot:
    """Re-key the chain from one entity type to another at this stage.

    Without ``via`` the stage's own event ties the two (a logon has user and host);
    with ``via`` (a rule id or name) earlier events of that rule do.
    """

    source: str
    target: str
    via: str | None = None
    to_field: str | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a scenario."""

    name: str
    rules: tuple[str, ...]
    within: timedelta
    entity: tuple[EntitySource, ...]
    absent: bool = False
    condition: Condition | None = None
    pivot: Pivot | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A compiled scenario (see the module doc and docs/scenarios.md)."""

    id: str
    title: str
    entity: str
    stages: tuple[Stage, ...]
    description: str = ""
    level: str = "high"
    score: float = 70.0
    tags: tuple[str, ...] = ()
    playbook: str | None = None
    links: tuple[Link, ...] = ()
    merge: timedelta = DEFAULT_MERGE
    path: str | None = None


@dataclass
class ScenarioSet:
    """What loading scenario paths gave: scenarios, the Sigma rules beside them (and the
    inline stage detections, compiled), and the errors."""

    scenarios: list[Scenario] = field(default_factory=list)
    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    #: Sigma correlation rules shipped beside the scenarios (a stage may be one).
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)

    def extend(self, other: ScenarioSet) -> None:
        self.scenarios.extend(other.scenarios)
        self.rules.extend(other.rules)
        self.errors.extend(other.errors)
        self.correlations.extend(other.correlations)

    def unresolved(self, known: Iterable[CompiledRule] = (),
                   correlations: Iterable[SigmaCorrelationRule] = (),
                   ) -> list[tuple[str, str, str]]:
        """(scenario id, stage, reference) of references that no rule and no Sigma
        correlation (those loaded here, and ``known`` / ``correlations``) answers to by
        its id, name or title."""
        names: set[str] = set()
        for r in [*self.rules, *known]:
            names.update(x for x in (r.id, r.name, r.title) if x)
        for c in [*self.correlations, *correlations]:
            names.update(x for x in (str(c.id) if c.id else None, c.name, c.title) if x)
        return [(s.id, st.name, ref) for s in self.scenarios for st in s.stages
                for ref in st.rules if ref not in names]


# --------------------------------------------------------------------------- validation
def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text("utf-8"))
    return data


def validate(instance: Any, schema: dict[str, Any] | None = None) -> list[tuple[KeyPath, str]]:
    """Schema errors as (key path, message), by ``jsonschema`` (Draft 2020-12)."""
    validator = jsonschema.Draft202012Validator(schema or _schema())
    out: list[tuple[KeyPath, str]] = []
    for e in validator.iter_errors(instance):
        path: KeyPath = tuple(e.path)
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            # Point at the unexpected key itself, not at the object holding it.
            known = set(e.schema.get("properties", {}))
            extra = sorted(k for k in e.instance if k not in known)
            if extra:
                path = (*path, extra[0])
        out.append((path, str(e.message)))
    return sorted(out, key=lambda x: [str(k) for k in x[0]])


# --------------------------------------------------------------------------- loading
def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(x) for x in value)
    return (str(value),)


def _fail(doc: YamlDoc, message: str, key: KeyPath, sid: str | None = None) -> ScenarioError:
    dotted = ".".join(str(k) for k in key) or None
    return ScenarioError(message, path=doc.path, line=doc.line(key), key=dotted, scenario_id=sid)


def is_scenario(data: Any) -> bool:
    """A YAML document is a scenario when it has ``stages`` (Sigma rules never do)."""
    return isinstance(data, dict) and "stages" in data


def compile_scenario(doc: YamlDoc) -> tuple[Scenario, list[CompiledRule]]:
    """Validate one scenario document and compile it, with its inline stage rules."""
    data = doc.data
    sid = str(data.get("id")) if isinstance(data, dict) and data.get("id") else None
    errors = validate(data)
    if errors:
        key, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise _fail(doc, message + more, key, sid)
    assert sid is not None
    level = str(data.get("level", "high"))
    links: list[Link] = []
    for name, item in (data.get("links") or {}).items():
        ttl = _duration(doc, item.get("ttl", DEFAULT_LINK_TTL), ("links", name, "ttl"), sid)
        links.append(Link(name=str(name), rules=_as_tuple(item["rules"]),
                          key=_as_tuple(item["key"]), value=str(item["value"]), ttl=ttl))
    link_names = {lk.name for lk in links}
    window = _duration(doc, data.get("window", DEFAULT_WINDOW), ("window",), sid)
    entity = str(data["entity"])
    chain_type = entity
    stages: list[Stage] = []
    inline: list[CompiledRule] = []
    names: set[str] = set()
    for i, raw in enumerate(data["stages"]):
        at: KeyPath = ("stages", i)
        name = str(raw["name"])
        if name in names:
            raise _fail(doc, f"duplicate stage name {name!r}", (*at, "name"), sid)
        names.add(name)
        refs = list(_as_tuple(raw.get("rules")))
        if "detection" in raw:
            rule = _inline_rule(doc, data, raw, at, sid)
            inline.append(rule)
            refs.append(rule.id or rule.title)
        if not refs:
            raise _fail(doc, "a stage needs 'rules' or an inline 'detection'", at, sid)
        if i == 0 and raw.get("absent"):
            raise _fail(doc, "the first stage cannot be absent", (*at, "absent"), sid)
        pivot = None
        if "pivot" in raw:
            p = raw["pivot"]
            pivot = Pivot(source=p["from"], target=p["to"], via=p.get("via"),
                          to_field=p.get("to_field"))
            if raw.get("absent"):
                raise _fail(doc, "an absent stage cannot pivot", (*at, "pivot"), sid)
            if pivot.source != chain_type:
                raise _fail(doc, f"the chain follows a {chain_type} here, not a {pivot.source}",
                            (*at, "pivot", "from"), sid)
            chain_type = pivot.target
        sources = []
        for j, src in enumerate(_listify(raw.get("entity"))):
            if isinstance(src, dict):
                if src["link"] not in link_names:
                    raise _fail(doc, f"unknown link {src['link']!r}", (*at, "entity", j, "link"),
                                sid)
                sources.append(EntitySource(link=src["link"], key=_as_tuple(src["key"])))
            else:
                sources.append(EntitySource(field=str(src)))
        within = _duration(doc, raw.get("within", window), (*at, "within"), sid)
        stages.append(Stage(
            name=name, rules=tuple(refs), within=within, entity=tuple(sources),
            absent=bool(raw.get("absent", False)),
            condition=_condition(doc, raw.get("context"), (*at, "context"), sid),
            pivot=pivot, description=str(raw.get("description", "")),
        ))
    score = data.get("score")
    scenario = Scenario(
        id=sid, title=str(data["title"]), entity=entity, stages=tuple(stages),
        description=str(data.get("description", "")).strip(), level=level,
        score=float(score) if score is not None else SEVERITY_SCORE.get(level, 45.0),
        tags=_as_tuple(data.get("tags")), playbook=data.get("playbook"), links=tuple(links),
        merge=_duration(doc, data.get("merge", DEFAULT_MERGE), ("merge",), sid), path=doc.path,
    )
    return scenario, inline


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _duration(doc: YamlDoc, value: Any, key: KeyPath, sid: str | None) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _fail(doc, str(exc), key, sid) from exc


def _condition(doc: YamlDoc, raw: Any, at: KeyPath, sid: str | None) -> Condition | None:
    if not raw:
        return None
    crit = None
    if "asset_criticality" in raw:
        m = _CRIT.match(str(raw["asset_criticality"]))
        name = criticality_name(m.group(2)) if m else None
        if m is None or name is None:
            raise _fail(doc, "asset_criticality is like '>= high'", (*at, "asset_criticality"),
                        sid)
        op = {"=": "==", None: ">="}.get(m.group(1), m.group(1))
        crit = (str(op), criticality_rank(name))
    return Condition(time=_as_tuple(raw.get("time")), criticality=crit,
                     asset=str(raw.get("asset", "host.name")), zone=_as_tuple(raw.get("zone")),
                     zone_of=_as_tuple(raw.get("zone_of")), share=raw.get("share"),
                     role=_roles(raw.get("role")), not_role=_roles(raw.get("not_role")),
                     role_of=_as_tuple(raw.get("role_of")),
                     entity_role=_roles(raw.get("entity_role")),
                     entity_not_role=_roles(raw.get("entity_not_role")))


def _roles(value: Any) -> tuple[str, ...]:
    return tuple(r for r in map(role_name, _as_tuple(value)) if r)


def _inline_rule(doc: YamlDoc, data: dict[str, Any], raw: dict[str, Any], at: KeyPath,
                 sid: str) -> CompiledRule:
    """Compile a stage's inline detection as a Sigma rule of its own: a building block
    (level informational), so it raises no alert and adds no risk by itself."""
    rule_id = str(uuid.uuid5(_INLINE_NS, f"{sid}/{raw['name']}"))
    sigma = {
        "title": f"{data['title']} / {raw['name']}",
        "id": rule_id,
        "status": "experimental",
        "level": "informational",
        "tags": [BUILDING_BLOCK],
        "logsource": raw.get("logsource") or {},
        "detection": raw["detection"],
    }
    loaded = rules_from_yaml(yaml.safe_dump(sigma, allow_unicode=True, sort_keys=False),
                             name=doc.path)
    if loaded.errors or not loaded.rules:
        err = loaded.errors[0] if loaded.errors else None
        sub: KeyPath = (*at, "detection")
        if err is not None and err.key and err.key.startswith("detection"):
            sub = (*at, *err.key.split("."))
        text = err.message.removesuffix(f" (key {err.key})") if err else "no rule compiled"
        raise _fail(doc, f"inline detection: {text}", sub, sid)
    return loaded.rules[0]


def scenarios_from_yaml(text: str, name: str = "<string>") -> ScenarioSet:
    """Scenarios (and any Sigma rules) from YAML text; for tests and inline use."""
    out = ScenarioSet()
    try:
        docs = parse_yaml_all(text, name)
    except ConfigError as exc:
        out.errors.append(exc)
        return out
    rule_docs: list[Any] = []
    for doc in docs:
        if is_scenario(doc.data):
            try:
                scenario, inline = compile_scenario(doc)
            except ScenarioError as exc:
                out.errors.append(exc)
                continue
            out.scenarios.append(scenario)
            out.rules.extend(inline)
        else:
            rule_docs.append(doc.data)
    if rule_docs:
        loaded = rules_from_yaml(yaml.safe_dump_all(rule_docs, allow_unicode=True), name=name)
        out.rules.extend(loaded.rules)
        out.errors.extend(loaded.errors)
        out.correlations.extend(loaded.correlations)
    return out


def load_scenarios(paths: Iterable[str | Path] | str | Path) -> ScenarioSet:
    """Every scenario under ``paths`` (files or folders), with the Sigma rules beside them.

    Files whose documents have ``stages`` are scenarios; every other ``.yml``/``.yaml``
    file is loaded as Sigma rules. Errors are collected, never raised; one bad scenario
    never stops the others.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    out = ScenarioSet()
    rule_paths: list[Path] = []
    seen: set[str] = set()
    for file in rule_files(paths):
        if file.suffix not in RULE_SUFFIXES or str(file) in seen:
            continue
        seen.add(str(file))
        try:
            text = file.read_text("utf-8")
            docs = parse_yaml_all(text, str(file))
        except ConfigError as exc:
            out.errors.append(exc)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            out.errors.append(ScenarioError(f"cannot read: {exc}", path=str(file)))
            continue
        if not any(is_scenario(d.data) for d in docs):
            rule_paths.append(file)
            continue
        part = scenarios_from_yaml(text, str(file))
        out.extend(part)
    if rule_paths:
        loaded = load_ruleset(rule_paths)
        out.rules.extend(loaded.rules)
        out.errors.extend(loaded.errors)
        out.correlations.extend(loaded.correlations)
    ids: dict[str, Scenario] = {}
    for s in out.scenarios:
        if s.id in ids:
            out.errors.append(ScenarioError(f"duplicate scenario id {s.id} (also in "
                                            f"{ids[s.id].path})", path=s.path, key="id"))
        ids.setdefault(s.id, s)
    return out


def rule_refs(rule: CompiledRule) -> tuple[str, ...]:
    """The names a stage may use for a rule: its id, its name and its title."""
    return tuple(x for x in (rule.id, rule.name, rule.title) if x)


__all__ = [
    "Condition", "EntitySource", "Link", "Pivot", "Scenario", "ScenarioError",
    "ScenarioSet", "Stage", "compile_scenario", "is_scenario", "load_scenarios",
    "parse_duration", "rule_refs", "scenarios_from_yaml", "validate",
]
