"""Value matching: the values of one Sigma detection item, compiled into a value test.

pySigma has already applied the value modifiers when it parsed the rule (``contains``
became wildcards around a ``SigmaString``, ``base64offset`` an expansion of three
strings, ``cidr`` a network, ``gt`` a comparison, ...). What is left here is to turn
those typed values into fast tests of one event value, once, at load time:

- plain strings compare case-insensitively (Sigma spec); literal values are lowered
  once, and an OR list becomes one set lookup, one ``startswith``/``endswith`` call
  with a tuple, a few ``in`` tests and at most one combined regex for the rest;
- ``cased`` strings compare as written; ``re`` is case-sensitive unless ``i`` or an
  inline ``(?i)``, and searches (it is not anchored);
- numbers match ints and numeric strings (``EventID: 4624`` matches 4624 and "4624");
- a list-valued event field matches when any element does.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
    TimestampPart,
)

from kizuki.model import Event
from kizuki.rules.memo import Getter, haystack, text_of
from kizuki.rules.regexlit import required_literal

ValueTest = Callable[[Any], bool]
Predicate = Callable[[Event], bool]

_PY_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_COMPARE: dict[CompareOperators, Callable[[Any, Any], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


class ValueError_(Exception):
    """A value the compiler cannot turn into a test (unknown placeholder, bad type)."""


def number_of(v: Any) -> int | float | None:
    """The numeric value of an event value, or None (numeric strings count)."""
    t = type(v)
    if t is int or t is float:
        return v  # type: ignore[no-any-return]
    if t is str:
        try:
            return int(v)
        except ValueError:
            pass
        try:
            # EVTX writes some numbers in hex (4688's NewProcessId "0x1a2c").
            if v[:2] in ("0x", "0X"):
                return int(v, 16)
            return float(v)
        except ValueError:
            return None
    return None


@lru_cache(maxsize=65536)
def _ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address string; cached, addresses repeat a lot."""
    try:
        a = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return a.version, int(a)


def time_of(v: Any) -> datetime | None:
    """An event value as an aware datetime: datetime, ISO 8601 text or epoch seconds."""
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return datetime.fromtimestamp(v, UTC)
    if isinstance(v, str):
        try:
            d = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    return None


_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar()[1],
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}


# --------------------------------------------------------------------------- placeholders


def expand_placeholders(
    values: Sequence[SigmaType], placeholders: Mapping[str, Sequence[str]]
) -> list[SigmaType]:
    """Replace ``%name%`` placeholders (the ``expand`` modifier) with configured values."""

    def callback(p: Placeholder) -> Iterator[str | SigmaString]:
        if p.name not in placeholders:
            raise ValueError_(f"placeholder %{p.name}% has no values in the configuration")
        for item in placeholders[p.name]:
            yield SigmaString(str(item))

    def regex_callback(p: Placeholder) -> Iterator[str]:
        if p.name not in placeholders:
            raise ValueError_(f"placeholder %{p.name}% has no values in the configuration")
        yield from (re.escape(str(x)) for x in placeholders[p.name])

    out: list[SigmaType] = []
    for v in values:
        if isinstance(v, SigmaExpansion):
            out.append(SigmaExpansion(expand_placeholders(v.values, placeholders)))
        elif isinstance(v, SigmaString) and v.contains_placeholder():
            expanded = v.replace_placeholders(callback)
            if isinstance(v, SigmaCasedString):
                expanded = [SigmaCasedString.from_sigma_string(s) for s in expanded]
            out.append(SigmaExpansion(list(expanded)))
        elif isinstance(v, SigmaRegularExpression) and v.contains_placeholder():
            regexes: list[SigmaType] = []
            for s in v.regexp.replace_placeholders(regex_callback):
                r = SigmaRegularExpression(str(s))
                r.flags = set(v.flags)
                regexes.append(r)
            out.append(SigmaExpansion(regexes))
        else:
            out.append(v)
    return out


# --------------------------------------------------------------------------- strings


def wildcard_regex(s: SigmaString, lower: bool,
                   literal: Callable[[str], str] = re.escape) -> str:
    """The regex source of a wildcard string (``*`` → ``.*``, ``?`` → ``.``), its literal
    parts written by ``literal`` (Python ``re`` escapes by default)."""
    out = []
    for part in s.s:
        if isinstance(part, str):
            out.append(literal(part.lower() if lower else part))
        elif part is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            raise ValueError_(f"unexpanded placeholder %{part.name}% (use the expand modifier)")
    return "".join(out)


class WildcardSet:
    """An OR of wildcard strings, sorted by shape so that each shape gets its fastest test.

    A string is an exact value, a prefix (``abc*``), a suffix (``*abc``), a substring
    (``*abc*``), anything at all (``*``), or else a pattern; literals are lowered when
    the set is case-insensitive. Subclasses say how a pattern is written (:meth:`pattern`):
    Python ``re`` source here, RE2 source for the columnar scan
    (kizuki.detect.columnar_compile), so that both sort the same strings the same way.
    """

    def __init__(self, lower: bool) -> None:
        self.lower = lower
        self.exact: set[str] = set()
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.contains: list[str] = []
        self.patterns: list[str] = []
        self.anything = False

    def pattern(self, s: SigmaString) -> str:
        """The regex source of a string of no simpler shape (anchored by the caller)."""
        return wildcard_regex(s, self.lower)

    def add(self, s: SigmaString) -> None:
        parts = s.s
        low = self.lower
        multi = SpecialChars.WILDCARD_MULTI
        if any(isinstance(p, Placeholder) for p in parts):
            raise ValueError_(f"unexpanded placeholder in '{s.original}' (use expand)")
        if not parts:
            self.exact.add("")
            return
        if all(isinstance(p, str) for p in parts):
            text = "".join(p for p in parts if isinstance(p, str))
            self.exact.add(text.lower() if low else text)
            return
        n = len(parts)
        inner = parts[1:-1] if n >= 2 else []
        if n == 1 and parts[0] is multi:
            self.anything = True
        elif n == 2 and parts[0] is multi and isinstance(parts[1], str):
            self.suffixes.append(parts[1].lower() if low else parts[1])
        elif n == 2 and parts[1] is multi and isinstance(parts[0], str):
            self.prefixes.append(parts[0].lower() if low else parts[0])
        elif n == 3 and parts[0] is multi and parts[2] is multi and isinstance(inner[0], str):
            self.contains.append(inner[0].lower() if low else inner[0])
        else:
            self.patterns.append(self.pattern(s))

    def empty(self) -> bool:
        return not (
            self.exact
            or self.prefixes
            or self.suffixes
            or self.contains
            or self.patterns
            or self.anything
        )


class _StringSet(WildcardSet):
    """OR of wildcard strings, all case-insensitive or all case-sensitive."""

    def build(self) -> ValueTest:
        """The test over a raw value, as written (``cased`` strings)."""
        if self.anything:
            return lambda v: v is not None
        lowered = self.build_lowered()  # with lower=False nothing was lowered

        def test(v: Any) -> bool:
            if type(v) is list or type(v) is tuple:
                return lowered(tuple(text_of(x) for x in v))
            return lowered(text_of(v))

        return test

    def build_lowered(self) -> ValueTest:
        """The test over a lowered value (str, tuple of str, or None).

        For a case-sensitive set (``lower=False``) the value is passed unlowered.
        """
        if self.anything:
            return lambda x: x is not None
        exact = frozenset(self.exact)
        prefixes = tuple(self.prefixes)
        suffixes = tuple(self.suffixes)
        contains = tuple(self.contains)
        rx = (
            re.compile("|".join(f"(?:{p})" for p in self.patterns), re.DOTALL).fullmatch
            if self.patterns
            else None
        )
        if not (prefixes or suffixes or contains or rx):

            def one(s: str) -> bool:
                return s in exact

        elif not (exact or prefixes or suffixes or rx):
            # Literals with non-ASCII characters (the emoji rules list thousands)
            # cannot occur in an ASCII value, and str.isascii() costs nothing.
            plain = tuple(c for c in contains if c.isascii())
            wide = tuple(c for c in contains if not c.isascii())

            def one(s: str) -> bool:
                for c in plain:
                    if c in s:
                        return True
                if wide and not s.isascii():
                    for c in wide:
                        if c in s:
                            return True
                return False

        elif not (exact or prefixes or contains or rx):

            def one(s: str) -> bool:
                return s.endswith(suffixes)

        else:

            def one(s: str) -> bool:
                if exact and s in exact:
                    return True
                if prefixes and s.startswith(prefixes):
                    return True
                if suffixes and s.endswith(suffixes):
                    return True
                if contains:
                    for c in contains:
                        if c in s:
                            return True
                return rx is not None and rx(s) is not None

        def test(x: Any) -> bool:
            if type(x) is str:
                return one(x)
            if x is None:
                return False
            # A list-valued field, lowered to a tuple; rare, so any() is fine.
            return any(item is not None and one(item) for item in x)

        return test


# --------------------------------------------------------------------------- value groups


class ValueGroup:
    """OR of the values of one detection item that only need the field's own value."""

    def __init__(self) -> None:
        self.strings = _StringSet(lower=True)
        self.cased = _StringSet(lower=False)
        self.numbers: set[int | float] = set()
        self.bools: set[bool] = set()
        self.null = False
        self.tests: list[ValueTest] = []
        # exists: false must see a missing value; every other test is false on None.
        self.sees_none = False

    def add(self, v: SigmaType) -> bool:
        """Add a value; False if it is not a plain value test (field references)."""
        if isinstance(v, SigmaCasedString):
            self.cased.add(v)
        elif isinstance(v, SigmaString):
            self.strings.add(v)
        elif isinstance(v, SigmaTimestampPart):  # before SigmaNumber: it is one
            self.tests.append(_timestamp_test(v))
        elif isinstance(v, SigmaNumber):
            self.numbers.add(v.number)
        elif isinstance(v, SigmaBool):
            self.bools.add(v.boolean)
        elif isinstance(v, SigmaNull):
            self.null = True
        elif isinstance(v, SigmaExists):
            want = v.exists
            self.sees_none = True
            self.tests.append(lambda x: (x is not None) is want)
        elif isinstance(v, SigmaRegularExpression):
            self.tests.append(regex_test(v))
        elif isinstance(v, SigmaCIDRExpression):
            self.tests.append(_cidr_test([v]))
        elif isinstance(v, SigmaCompareExpression):
            self.tests.append(_compare_test(v))
        elif isinstance(v, SigmaExpansion):
            for inner in v.values:
                if not self.add(inner):
                    return False
        elif isinstance(v, SigmaFieldReference):
            return False
        else:
            raise ValueError_(f"unsupported value type {type(v).__name__}")
        return True

    def take_strings(self) -> _StringSet | None:
        """Remove and return the case-insensitive strings, which test lowered values."""
        if self.strings.empty():
            return None
        out, self.strings = self.strings, _StringSet(lower=True)
        return out

    def build(self) -> ValueTest | None:
        """One test over the event value; None when the group is empty."""
        tests = list(self.tests)
        if not self.strings.empty():
            tests.insert(0, self.strings.build())
        if not self.cased.empty():
            tests.append(self.cased.build())
        if self.numbers:
            tests.append(_number_test(frozenset(self.numbers)))
        if self.bools:
            bools = frozenset(self.bools)
            texts = frozenset("true" if b else "false" for b in bools)
            tests.append(
                lambda x: (x in bools)
                if type(x) is bool
                else (type(x) is str and x.lower() in texts)
            )
        if self.null and not tests:
            return lambda x: x is None
        if not tests and not self.null:
            return None
        one = any_of(tests)
        null = self.null
        if self.sees_none:
            return (lambda x: x is None or one(x)) if null else one

        def test(x: Any) -> bool:
            if x is None:
                return null
            if type(x) is list or type(x) is tuple:
                for item in x:  # noqa: SIM110 - faster than any() here
                    if one(item):
                        return True
                return False
            return one(x)

        return test


def any_of(tests: Sequence[ValueTest]) -> ValueTest:
    """OR of value tests, with the one- and two-test cases unrolled."""
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda x: a(x) or b(x)
    ts = tuple(tests)
    return lambda x: any(t(x) for t in ts)


def _number_test(numbers: frozenset[int | float]) -> ValueTest:
    def test(x: Any) -> bool:
        t = type(x)
        if t is int or t is float:
            return x in numbers
        n = number_of(x)
        return n is not None and n in numbers

    return test


def regex_test(v: SigmaRegularExpression) -> ValueTest:
    """A ``re`` value: searched, case-sensitive unless ``i``/``(?i)``."""
    flags = 0
    for f in v.flags:
        flags |= _PY_FLAGS[f]
    try:
        search = re.compile(str(v.regexp), flags).search
    except re.error as exc:
        raise ValueError_(f"invalid regular expression '{v.regexp}': {exc}") from exc
    needed = required_literal(str(v.regexp), flags)
    if needed is None:
        def test(x: Any) -> bool:
            s = x if type(x) is str else text_of(x)
            return s is not None and search(s) is not None

        return test
    lit, lowered = needed

    def guarded(x: Any) -> bool:
        # The literal every match holds rules most values out without the regex.
        s = x if type(x) is str else text_of(x)
        if s is None or lit not in (s.lower() if lowered else s):
            return False
        return search(s) is not None

    return guarded


def _cidr_test(values: Sequence[SigmaCIDRExpression]) -> ValueTest:
    ranges = tuple(
        (n.network.version, int(n.network.network_address), int(n.network.broadcast_address))
        for n in values
    )

    def test(x: Any) -> bool:
        s = x if type(x) is str else text_of(x)
        if not s:
            return False
        a = _ip(s)
        if a is None:
            return False
        ver, num = a
        for rv, lo, hi in ranges:  # noqa: SIM110 - faster than any() here
            if rv == ver and lo <= num <= hi:
                return True
        return False

    return test


def _compare_test(v: SigmaCompareExpression) -> ValueTest:
    op = _COMPARE[v.op]
    ref = v.number.number

    def test(x: Any) -> bool:
        n = number_of(x)
        return n is not None and op(n, ref)

    return test


def _timestamp_test(v: SigmaTimestampPart) -> ValueTest:
    part = _PARTS[v.timestamp_part]
    want = v.number

    def test(x: Any) -> bool:
        d = time_of(x)
        return d is not None and part(d) == want

    return test


def fieldref_test(ref: SigmaFieldReference, get: Getter, other: Getter) -> Predicate:
    """``fieldref``: the field's value equals (or starts/ends with) another field's."""
    starts, ends = ref.starts_with, ref.ends_with

    def test(e: Event) -> bool:
        a = text_of(get(e))
        b = text_of(other(e))
        if a is None or b is None:
            return False
        a, b = a.lower(), b.lower()
        if starts and ends:
            return b in a
        if starts:
            return a.startswith(b)
        if ends:
            return a.endswith(b)
        return a == b

    return test


# --------------------------------------------------------------------------- keywords


def keyword_test(v: SigmaType) -> Predicate:
    """A field-less value: searched (like grep) in every value of the event."""
    if isinstance(v, SigmaString):
        parts = list(v.s)
        # Keywords match anywhere: leading/trailing wildcards add nothing.
        while parts and parts[0] is SpecialChars.WILDCARD_MULTI:
            parts.pop(0)
        while parts and parts[-1] is SpecialChars.WILDCARD_MULTI:
            parts.pop()
        cased = isinstance(v, SigmaCasedString)
        if all(isinstance(p, str) for p in parts):
            lit = "".join(p for p in parts if isinstance(p, str))
            if cased:
                return lambda e: lit in haystack(e)[0]
            low = lit.lower()
            return lambda e: low in haystack(e)[1]
        s = SigmaString()
        s.s = parts
        search = re.compile(wildcard_regex(s, False), 0 if cased else re.IGNORECASE).search
        return lambda e: search(haystack(e)[0]) is not None
    if isinstance(v, SigmaNumber):
        lit = str(v.number)
        return lambda e: lit in haystack(e)[0]
    if isinstance(v, SigmaRegularExpression):
        rt = regex_test(v)
        return lambda e: any(rt(s) for s in haystack(e)[2])
    if isinstance(v, SigmaExpansion):
        preds = [keyword_test(x) for x in v.values]
        return lambda e: any(p(e) for p in preds)
    raise ValueError_(f"unsupported keyword value type {type(v).__name__}")
