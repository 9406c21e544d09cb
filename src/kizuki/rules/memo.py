"""Per-event values shared by every rule: lowered fields and keyword text (style §6).

Many rules read the same field of the same event (1,400 rules read a process
creation's CommandLine); its lowered value, and the text keyword detections search, are
computed once per event instead of once per rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kizuki.model import Event

Getter = Callable[[Event], Any]


def text_of(v: Any) -> str | None:
    """The string form Sigma compares: numbers as digits, booleans as true/false."""
    if type(v) is str:
        return v
    if v is None:
        return None
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


class EventMemo:
    """Values derived from one event, shared by every rule that looks at it.

    The memo keeps the last event only; its state is one tuple swapped whole, so two
    engines in two threads never read each other's values (they only evict each other).
    """

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: tuple[Event | None, dict[Any, Any]] = (None, {})

    def values(self, e: Event) -> dict[Any, Any]:
        """The memo dict of ``e`` (a fresh one when ``e`` is a new event)."""
        ev, memo = self.state
        if ev is not e:
            memo = {}
            self.state = (e, memo)
        return memo


MEMO = EventMemo()
_MISSING = object()


def lower_value(v: Any) -> Any:
    """An event value lowered for case-insensitive tests (lists element by element)."""
    if type(v) is str:
        return v.lower()
    if v is None:
        return None
    if type(v) is list or type(v) is tuple:
        return tuple(lower_value(x) for x in v)
    s = text_of(v)
    return s.lower() if s is not None else None


def lower_getter(key: Any, get: Getter) -> Getter:
    """A getter of the lowered value of a field, memoized per event under ``key``."""
    memo = MEMO

    def get_lower(e: Event) -> Any:
        ev, vals = memo.state
        if ev is not e:
            vals = {}
            memo.state = (e, vals)
        v = vals.get(key, _MISSING)
        if v is _MISSING:
            v = vals[key] = lower_value(get(e))
        return v

    return get_lower


_HAY_KEY = ("\0", "haystack")
_LOW_KEY = ("\0", "haystack-lower")


def _texts(e: Event) -> list[str]:
    """The event's values as Sigma compares them, in record order (message last)."""
    texts = [v if type(v) is str else text_of(v) for v in e.original.values()
             if v is not None and v != ""]
    if e.message:
        texts.append(e.message)
    return texts  # type: ignore[return-value]  # text_of of a non-None value is a str


def haystack(e: Event) -> tuple[str, str, tuple[str, ...]]:
    """The text keyword detections search: (joined, joined lowered, single values)."""
    vals = MEMO.values(e)
    hay: tuple[str, str, tuple[str, ...]] | None = vals.get(_HAY_KEY)
    if hay is None:
        values = tuple(_texts(e))
        # Values are joined by newlines and patterns avoid DOTALL, so a keyword with
        # wildcards never matches across two different fields.
        joined = "\n".join(values)
        low = vals.get(_LOW_KEY)
        hay = vals[_HAY_KEY] = (joined, joined.lower() if low is None else low, values)
    return hay


def haystack_lower(e: Event) -> str:
    """``haystack(e)[1]`` alone, which keyword lists search: built without the rest."""
    ev, vals = MEMO.state
    if ev is e:
        low: str | None = vals.get(_LOW_KEY)
        if low is not None:
            return low
        hay = vals.get(_HAY_KEY)
        if hay is not None:
            return hay[1]  # type: ignore[no-any-return]
    else:
        vals = MEMO.values(e)
    low = vals[_LOW_KEY] = "\n".join(_texts(e)).lower()
    return low
