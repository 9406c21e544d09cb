"""The literal text every match of a regular expression must contain (issue 3 item 7).

A Sigma ``re`` value is searched in a field of every candidate event; most values hold
none of the text the expression needs (SigmaHQ's token-obfuscation rule needs a
backtick, its path rules a ``\\Users\\``). :func:`required_literal` reads the parsed
expression (Python's own ``re`` parser, so the reading is the one ``re`` matches with)
and returns the longest run of characters that every match holds, in order and
adjacent; a plain ``in`` test on it rules most values out before the regex runs.

The reading is conservative: only literals outside alternations, optional parts and
groups with their own flags count. Under ``IGNORECASE`` the run is compared with the
lowered value, and letters that ``re`` folds together with characters outside ASCII
(``s`` ~ ``ſ``, ``k`` ~ the Kelvin sign, ``i`` ~ dotless ``ı``) end a run, so the test
never rules out a value the regex would match.
"""

from __future__ import annotations

import re
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_p  # type: ignore[attr-defined]
from typing import Any

#: Letters that ``re.IGNORECASE`` matches with characters outside ASCII.
_FOLDS_WIDE = frozenset("iksIKS")
_REPEATS = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT}
if hasattr(sre_c, "POSSESSIVE_REPEAT"):
    _REPEATS.add(sre_c.POSSESSIVE_REPEAT)


def _runs(seq: Any, ignorecase: bool, out: list[str]) -> None:
    """Append to ``out`` the adjacent literal runs that every match of ``seq`` holds."""
    cur: list[str] = []

    def flush() -> None:
        if cur:
            out.append("".join(cur))
            cur.clear()

    for op, av in seq:
        if op is sre_c.LITERAL:
            ch = chr(av)
            if ignorecase and (not ch.isascii() or ch in _FOLDS_WIDE):
                flush()
            else:
                cur.append(ch.lower() if ignorecase else ch)
        elif op is sre_c.AT:
            continue  # anchors are zero-width: the characters around them stay adjacent
        elif op is sre_c.SUBPATTERN:
            flush()
            _group, add_flags, del_flags, body = av
            if not add_flags and not del_flags:
                _runs(body, ignorecase, out)
        elif op in _REPEATS:
            flush()
            low, _high, body = av
            if low >= 1:
                _runs(body, ignorecase, out)
        else:
            flush()
    flush()


def required_literal(pattern: str, flags: int = 0) -> tuple[str, bool] | None:
    """The longest literal every match of ``pattern`` contains, and whether to compare
    it with the lowered value (``IGNORECASE``); None when there is no such literal."""
    try:
        parsed = sre_p.parse(pattern, flags)
    except (re.error, RecursionError):
        return None
    all_flags = parsed.state.flags
    if all_flags & re.VERBOSE:
        return None  # whitespace and comments: leave such patterns to the regex alone
    ignorecase = bool(all_flags & re.IGNORECASE)
    runs: list[str] = []
    _runs(parsed, ignorecase, runs)
    if not runs:
        return None
    return max(runs, key=len), ignorecase
