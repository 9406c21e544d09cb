"""YAML documents that remember the line of every key, so errors can point at it (style §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kizuki import yamlio
from kizuki.errors import ConfigError

KeyPath = tuple[str | int, ...]


class YamlDoc:
    """One parsed YAML document with the 1-based line of each key path."""

    def __init__(self, data: Any, lines: dict[KeyPath, int], path: str) -> None:
        self.data = data
        self.lines = lines
        self.path = path

    def line(self, key: KeyPath) -> int | None:
        """The line of ``key`` or of its deepest known parent."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get(())

    def error(self, message: str, key: KeyPath = ()) -> ConfigError:
        """A :class:`ConfigError` naming this file, the key's line and the key."""
        line = self.line(key)
        where = f"{self.path}:{line}" if line is not None else self.path
        dotted = ".".join(str(k) for k in key)
        return ConfigError(f"{message} (key {dotted})" if dotted else message, where=where)


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            sub = (*path, str(k.value))
            lines[sub] = k.start_mark.line + 1
            _walk(v, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*path, i), lines)


def parse_yaml_all(text: str, path: str) -> list[YamlDoc]:
    """Every document of ``text``; a syntax error becomes a ConfigError with its line."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=yamlio.SafeLoader) if n is not None]
        datas = [d for d in yamlio.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(f"invalid YAML: {exc}", where=where) from exc
    docs: list[YamlDoc] = []
    for node, data in zip(nodes, datas, strict=True):
        lines: dict[KeyPath, int] = {}
        _walk(node, (), lines)
        docs.append(YamlDoc(data, lines, path))
    return docs


def read_yaml(path: Path) -> YamlDoc:
    """The first document of a YAML file (an empty file gives ``{}``)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", where=str(path)) from exc
    docs = parse_yaml_all(text, str(path))
    return docs[0] if docs else YamlDoc({}, {}, str(path))
