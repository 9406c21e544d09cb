"""The explicit registry of parsers: a ``NAME`` each, duplicates raise (style §5).

Third-party parsers come in through the ``kizuki.parsers`` entry-point group.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TypeVar

from kizuki.errors import ConfigError
from kizuki.sources.base import Parser

P = TypeVar("P", bound=type[Parser])

_PARSERS: dict[str, type[Parser]] = {}
_plugins_loaded = False


def register(cls: P) -> P:
    """Class decorator: add a parser to the registry under its ``NAME``."""
    name = getattr(cls, "NAME", None)
    if not name:
        raise ConfigError(f"parser {cls.__qualname__} has no NAME")
    if name in _PARSERS and _PARSERS[name] is not cls:
        raise ConfigError(f"parser name {name!r} is registered twice")
    _PARSERS[name] = cls
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="kizuki.parsers"):
        register(ep.load())


def parsers() -> dict[str, type[Parser]]:
    """All registered parsers by name (built-in and plugins)."""
    import kizuki.sources.builtin  # noqa: F401  (registers the built-in parsers)

    _load_plugins()
    return dict(_PARSERS)


def get(name: str) -> Parser:
    """A parser instance by name; an unknown name is a clear error."""
    found = parsers().get(name)
    if found is None:
        known = ", ".join(sorted(parsers()))
        raise ConfigError(f"unknown log format {name!r}; known formats: {known}")
    return found()


def sniff(head: bytes, name: str) -> tuple[Parser | None, int]:
    """The parser most sure of ``head``, and its score (0 when none claims it)."""
    best: Parser | None = None
    best_score = 0
    for cls in sorted(parsers().values(), key=lambda c: (c.SNIFF_ORDER, c.NAME)):
        parser = cls()
        score = parser.sniff(head, name)
        if score > best_score:
            best, best_score = parser, score
            if score >= 100:
                break
    return best, best_score
