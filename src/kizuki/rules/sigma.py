"""Load Sigma rule files and folders with pySigma, and compile every rule once.

One bad rule never stops the others (style §2, §3): each file is parsed on its own, and
each rule that cannot be parsed or compiled becomes a ``RuleError`` naming the file, the
line and the YAML key at fault. Sigma filters (``filter:`` documents) found among the
rules are applied to the rules they name before compiling; correlation rules are kept,
unconverted, for the correlation engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaModifierError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from kizuki import yamlio
from kizuki.rules.compile import CompiledRule, CompileError, KeyPath, compile_rule
from kizuki.rules.errors import RuleError
from kizuki.rules.pipeline import Pipeline

RULE_SUFFIXES = (".yml", ".yaml")

# pySigma errors carry no key; their class tells which part of the rule was at fault.
_ERROR_KEYS: dict[str, KeyPath] = {
    "SigmaLogsourceError": ("logsource",),
    "SigmaConditionError": ("detection", "condition"),
    "SigmaDetectionError": ("detection",),
    "SigmaIdentifierError": ("id",),
    "SigmaTitleError": ("title",),
    "SigmaLevelError": ("level",),
    "SigmaStatusError": ("status",),
    "SigmaDateError": ("date",),
    "SigmaModifiedError": ("modified",),
    "SigmaRelatedError": ("related",),
    "SigmaTagError": ("tags",),
    "SigmaFieldsError": ("fields",),
    "SigmaFalsePositivesError": ("falsepositives",),
    "SigmaReferencesError": ("references",),
    "SigmaAuthorError": ("author",),
    "SigmaDescriptionError": ("description",),
    "SigmaLicenseError": ("license",),
    "SigmaNameError": ("name",),
    "SigmaScopeError": ("scope",),
    "SigmaTaxonomyError": ("taxonomy",),
    "SigmaFilterError": ("filter",),
    "SigmaFilterConditionError": ("filter", "condition"),
    "SigmaFilterRuleReferenceError": ("filter", "rules"),
    "SigmaCorrelationRuleError": ("correlation",),
    "SigmaTimespanError": ("correlation", "timespan"),
}
_QUOTED = re.compile(r"'([^']+)'")


@dataclass
class RuleSet:
    """What loading rule paths gave: compiled rules, correlations, filters and errors."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    filters: list[SigmaFilter] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    files: int = 0

    def by_id(self) -> dict[str, CompiledRule]:
        """Compiled rules by Sigma id."""
        return {r.id: r for r in self.rules if r.id}


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """The rule files under ``paths`` (files as given, folders walked), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob("*") if x.suffix in RULE_SUFFIXES and x.is_file()))
        else:
            out.append(p)
    return out


class _Source:
    """One rule file's text, with the line of any YAML key found on demand."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._docs: list[yaml.Node] | None = None

    def docs(self) -> list[yaml.Node]:
        if self._docs is None:
            try:
                self._docs = [d for d in yaml.compose_all(self.text) if d is not None]
            except yaml.YAMLError:
                self._docs = []
        return self._docs

    def line_of(self, doc: int, path: KeyPath) -> int | None:
        """1-based line of the key at ``path`` in document ``doc`` (deepest found)."""
        docs = self.docs()
        if doc >= len(docs):
            return None
        node: yaml.Node = docs[doc]
        line: int | None = node.start_mark.line + 1
        for step in path:
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                for k, v in node.value:
                    if k.value == step:
                        line, node = k.start_mark.line + 1, v
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if step >= len(node.value):
                    return line
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def find(self, doc: int, needle: str, under: KeyPath) -> KeyPath | None:
        """The key path of the first key or scalar under ``under`` containing ``needle``."""
        docs = self.docs()
        if doc >= len(docs):
            return None

        def walk(node: yaml.Node, path: KeyPath) -> KeyPath | None:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if needle in str(k.value):
                        return (*path, k.value)
                    hit = walk(v, (*path, k.value))
                    if hit is not None:
                        return hit
            elif isinstance(node, yaml.SequenceNode):
                for i, v in enumerate(node.value):
                    hit = walk(v, (*path, i))
                    if hit is not None:
                        return hit
            elif isinstance(node, yaml.ScalarNode) and needle in str(node.value):
                return path
            return None

        node: yaml.Node | None = docs[doc]
        for step in under:
            if not isinstance(node, yaml.MappingNode):
                return None
            node = next((v for k, v in node.value if k.value == step), None)
        return walk(node, under) if node is not None else None

    def error(
        self,
        message: str,
        doc: int,
        path: KeyPath,
        rule_id: str | None = None,
        title: str | None = None,
    ) -> RuleError:
        key = ".".join(str(p) for p in path) or None
        return RuleError(
            message,
            path=self.path,
            line=self.line_of(doc, path),
            key=key,
            rule_id=rule_id,
            title=title,
        )

    def sigma_error(
        self, exc: SigmaError, doc: int, rule_id: str | None = None, title: str | None = None
    ) -> RuleError:
        """A pySigma error as a RuleError, its key guessed from its class and message."""
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        path = _ERROR_KEYS.get(type(exc).__name__, ())
        if not path and isinstance(exc, SigmaModifierError | ValueError):
            path = ("detection",)
        if path[:1] == ("detection",):
            m = re.search(r"[Uu]nknown modifier '?([\w]+)'?", message)
            needles = [f"|{m.group(1)}"] if m else _QUOTED.findall(message)
            for needle in needles:
                hit = self.find(doc, needle, ("detection",))
                if hit is not None:
                    path = hit
                    break
        return self.error(f"{type(exc).__name__}: {message}", doc, path, rule_id, title)


def _doc_index(rule: Any, docs: list[Any]) -> int:
    """Which YAML document of its file a parsed rule came from (by id or title)."""
    rid = str(getattr(rule, "id", "") or "")
    title = getattr(rule, "title", None)
    for i, d in enumerate(docs):
        if isinstance(d, dict) and ((rid and str(d.get("id")) == rid) or d.get("title") == title):
            return i
    return 0


def load_ruleset(
    paths: Iterable[str | Path],
    *,
    pipeline: Pipeline | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> RuleSet:
    """Load every rule under ``paths``; errors are collected, never raised."""
    pipe = pipeline or Pipeline.default()
    out = RuleSet()
    parsed: list[tuple[SigmaRule, _Source, int]] = []
    for file in rule_files(paths):
        out.files += 1
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.errors.append(RuleError(f"cannot read rule file: {exc}", path=str(file)))
            continue
        parsed.extend(_parse_file(_Source(str(file), text), out))
    _compile_all(parsed, out, pipe, placeholders)
    return out


def _parse_file(src: _Source, out: RuleSet) -> list[tuple[SigmaRule, _Source, int]]:
    try:
        docs = list(yamlio.safe_load_all(src.text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        out.errors.append(RuleError(f"invalid YAML: {exc}", path=src.path, line=line))
        return []
    try:
        collection = SigmaCollection.from_dicts(
            docs,
            collect_errors=True,
            source=SigmaRuleLocation(Path(src.path)),
            collect_filters=True,
            resolve_references=False,
        )
    except SigmaError as exc:
        out.errors.append(src.sigma_error(exc, 0))
        return []
    except Exception as exc:  # pySigma can fail with plain errors on odd documents
        out.errors.append(RuleError(f"cannot parse rule: {exc!r}", path=src.path))
        return []
    reported: set[int] = set()
    result: list[tuple[SigmaRule, _Source, int]] = []
    for item in [*collection.rules, *collection.filters]:
        doc = _doc_index(item, docs)
        rid = str(item.id) if item.id else None
        if item.errors:
            for err in item.errors:
                reported.add(id(err))
                out.errors.append(src.sigma_error(err, doc, rid, item.title))
            continue
        if isinstance(item, SigmaFilter):
            out.filters.append(item)
        elif isinstance(item, SigmaCorrelationRule):
            out.correlations.append(item)
        elif isinstance(item, SigmaRule):
            result.append((item, src, doc))
    for err in collection.errors:
        if id(err) not in reported:
            out.errors.append(src.sigma_error(err, 0))
    return result


def load_rules(
    paths: Iterable[str | Path],
    *,
    pipeline: Pipeline | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[CompiledRule], list[RuleError]]:
    """Compiled rules and the errors of those that failed, for rule files and folders."""
    rs = load_ruleset(paths, pipeline=pipeline, placeholders=placeholders)
    return rs.rules, rs.errors


def rules_from_yaml(
    text: str,
    *,
    name: str = "<string>",
    pipeline: Pipeline | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> RuleSet:
    """Load rules from YAML text (one or more documents); for tests and inline rules."""
    pipe = pipeline or Pipeline.default()
    out = RuleSet(files=1)
    src = _Source(name, text)
    _compile_all(_parse_file(src, out), out, pipe, placeholders)
    return out


def _compile_all(
    parsed: list[tuple[SigmaRule, _Source, int]],
    out: RuleSet,
    pipe: Pipeline,
    placeholders: Mapping[str, Sequence[str]] | None,
) -> None:
    """Apply the filters found to the rules they name, then compile every rule."""
    for flt in out.filters:
        for rule, _src, _doc in parsed:
            try:
                flt.apply_on_rule(rule)
            except SigmaError as exc:
                out.errors.append(
                    RuleError(
                        f"filter '{flt.title}' cannot apply: {exc}",
                        path=_src.path,
                        rule_id=str(rule.id),
                    )
                )
    for rule, src, doc in parsed:
        rid = str(rule.id) if rule.id else None
        try:
            out.rules.append(compile_rule(rule, pipe, placeholders, src.path))
        except CompileError as exc:
            out.errors.append(src.error(str(exc), doc, exc.path, rid, rule.title))
        except SigmaError as exc:
            out.errors.append(src.sigma_error(exc, doc, rid, rule.title))
