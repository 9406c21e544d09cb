"""Sigma keyword lists: any of many plain words anywhere in an event (issue 3 item 7).

A keyword detection searches every value of an event. SigmaHQ's "Mimikatz Use" lists
20 words and applies to every Windows record, so its cost is paid per event. One
Aho–Corasick automaton (pyahocorasick) finds all words in one pass over a lowered value;
the answer for a value is remembered, because most values of a log repeat (computer,
channel, provider, account and process names), so a typical record costs a few dict
lookups instead of lowering and searching all its text.

A word never spans two values (the joined text keyword tests see separates values with
newlines), so searching value by value is the same test, as long as no word holds a
newline; lists with such a word keep the joined search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ahocorasick

from kizuki.model import Event
from kizuki.rules.memo import haystack_lower, text_of
from kizuki.rules.modifiers import Predicate

#: Remembered answers per keyword list before the memory is cleared and starts again,
#: and the longest value remembered: at most 64k × 512 characters per list.
REMEMBER = 1 << 16
REMEMBER_LENGTH = 512
_DIGITS = frozenset("0123456789-")


def keyword_list(words: Sequence[str]) -> Predicate:
    """A predicate: does any value of the event contain any of ``words`` (lowered)?"""
    words = [w for w in words if w]
    automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
    for word in words:
        automaton.add_word(word)
    automaton.make_automaton()
    find = automaton.iter

    if any("\n" in w for w in words):
        def joined(e: Event) -> bool:
            return next(find(haystack_lower(e)), None) is not None

        return joined

    # Numbers are digits (and a sign): only a word of those characters can be in one.
    numbers_can_match = any(set(w) <= _DIGITS for w in words)
    bool_texts = [t for t in ("true", "false") if any(w in t for w in words)]
    seen: dict[str, bool] = {}

    def holds(s: str) -> bool:
        found = seen.get(s)
        if found is None:
            found = next(find(s.lower()), None) is not None
            if len(s) <= REMEMBER_LENGTH:  # long values (scripts) rarely repeat
                if len(seen) >= REMEMBER:
                    seen.clear()
                seen[s] = found
        return found

    def other(v: Any) -> bool:
        if v is True or v is False:
            return ("true" if v else "false") in bool_texts
        if type(v) is int or type(v) is float:
            return numbers_can_match and holds(text_of(v))  # type: ignore[arg-type]
        s = text_of(v)
        return s is not None and holds(s)

    def any_keyword(e: Event) -> bool:
        get = seen.get
        for v in e.original.values():
            if type(v) is str:
                found = get(v)
                if found is None:
                    found = holds(v)
                if found:
                    return True
            elif v is None or (not numbers_can_match and type(v) is int):
                continue
            elif other(v):
                return True
        msg = e.message
        return bool(msg) and holds(msg)  # type: ignore[arg-type]

    return any_keyword
