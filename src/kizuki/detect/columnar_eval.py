"""Run compiled columnar expressions on one block of rows (issue 3 item 7).

:class:`BlockEval` evaluates the nodes :mod:`kizuki.detect.columnar_compile` builds with
``pyarrow.compute`` kernels over a block's columns, sharing work between rules (one
lowered column, one set lookup per distinct literal set). Every node gives two masks,
``upper`` and ``lower`` (``lower ⊆ rows the rule accepts ⊆ upper``); rows whose values
the kernels cannot compare exactly like the row-wise predicate (non-ASCII text under
lowering, floats printed as text, non-canonical numbers and addresses) are widened into
``upper`` only, so the scanner confirms them with the row-wise predicate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import reduce
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kizuki.detect.columnar_compile import And, Leaf, Mask, Node, Not, Opaque, Or, StrSet

#: Canonical decimal integers (what ``str(int)`` writes, within int64).
_CANON_INT = r"^(?:0|-?[1-9][0-9]{0,17})$"
#: Canonical dotted quads, as ``ipaddress`` accepts them (no leading zeros).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANON_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
#: Text that may still parse as an IPv4 address after ``strip()`` (one run of digits/dots).
_MAYBE_IPV4 = r"^[^0-9.]*[0-9.]+[^0-9.]*$"
#: Rows where Python's ``re`` and RE2 may disagree: anything but printable ASCII and tab.
_RE_UNSAFE = r"[^\t\x20-\x7e]"
_BIG = float(1 << 53)
#: Literals that ASCII lowering compares exactly even on non-ASCII text: the lowercase
#: of a non-ASCII character is non-ASCII except "i" (U+0130) and "k" (U+212A), so an
#: ASCII literal without those letters matches ``s.lower()`` where it matches the
#: ASCII-lowered ``s``.
_SAFE_LOWER = re.compile(r"[\x00-\x68\x6a\x6c-\x7f]*\Z")
_CASED = re.compile(r"[^\x00-\x7f]|[a-zA-Z]")

#: Column kinds: how a column's values compare like the row-wise event values.
NULL, STR, INT, FLOAT, BOOL, OTHER = "null", "str", "int", "float", "bool", "other"


def kind_of(t: pa.DataType) -> str:
    """The comparison kind of an Arrow type (struct: a flattened object, never a value)."""
    if pa.types.is_null(t) or pa.types.is_struct(t):
        return NULL
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return STR
    if pa.types.is_integer(t):
        return INT
    if pa.types.is_floating(t):
        return FLOAT
    if pa.types.is_boolean(t):
        return BOOL
    return OTHER


def as_mask(a: Any) -> Mask:
    """A boolean Arrow (chunked) array as one array, nulls false."""
    filled = pc.fill_null(a, False)
    if isinstance(filled, pa.ChunkedArray):
        return filled.combine_chunks()
    return filled


def any_true(m: Mask) -> bool:
    """Whether a mask has any true value."""
    return bool(pc.any(m).as_py())


def _and(a: Mask, b: Mask) -> Mask:
    return pc.and_(a, b)


def _or(a: Mask, b: Mask) -> Mask:
    return pc.or_(a, b)


def _not(a: Mask) -> Mask:
    return pc.invert(a)


def constant(n: int, value: bool) -> Mask:
    """A mask of ``n`` equal values."""
    return pc.fill_null(pa.nulls(n, pa.bool_()), value)


class BlockEval:
    """Evaluates expressions on one block's columns, sharing work between rules.

    ``columns`` maps a flattened field name to its values (None: absent in this block);
    a name missing from the mapping is opaque (``@timestamp``, read from the event).
    """

    def __init__(self, columns: Mapping[str, Any], n: int) -> None:
        self.columns = columns
        self.n = n
        self.true: Mask = constant(n, True)
        self.false: Mask = constant(n, False)
        self._memo: dict[Any, Any] = {}

    # -- columns -------------------------------------------------------------------
    def _cached(self, key: Any, make: Any) -> Any:
        memo = self._memo
        if key in memo:
            return memo[key]
        value = memo[key] = make()
        return value

    def column(self, names: tuple[str, ...]) -> tuple[str, Any]:
        """(kind, values) of the first present of ``names``; kind OTHER when undecidable."""
        return self._cached(("col", names), lambda: self._column(names))  # type: ignore[no-any-return]

    def _column(self, names: tuple[str, ...]) -> tuple[str, Any]:
        found: list[tuple[str, Any]] = []
        for name in names:
            if name not in self.columns:
                return OTHER, None
            arr = self.columns[name]
            if arr is None:
                continue
            kind = kind_of(arr.type)
            if kind != NULL:
                found.append((kind, arr))
        if not found:
            return NULL, None
        if len(found) == 1:
            return found[0]
        kinds = {k for k, _ in found}
        types = {a.type for _, a in found}
        if len(kinds) > 1 or len(types) > 1 or OTHER in kinds:
            return OTHER, None
        return found[0][0], pc.coalesce(*[a for _, a in found])

    def text(self, names: tuple[str, ...], lowered: bool) -> tuple[Any, Mask | None] | None:
        """(text values, rows where the text test is undecidable) or None if opaque."""
        return self._cached(("text", names, lowered),  # type: ignore[no-any-return]
                            lambda: self._text(names, lowered))

    def _text(self, names: tuple[str, ...], lowered: bool) -> tuple[Any, Mask | None] | None:
        kind, arr = self.column(names)
        if kind == STR:
            if not lowered:
                return arr, None
            # Python's str.lower() and ASCII lowering agree on ASCII text only.
            unknown = _and(_not(as_mask(pc.string_is_ascii(arr))), self._valid(names))
            return pc.ascii_lower(arr), (unknown if any_true(unknown) else None)
        if kind in (INT, BOOL):
            return pc.cast(arr, pa.string()), None
        return None

    def _mask_of(self, names: tuple[str, ...], pattern: str) -> Mask:
        _, arr = self.column(names)
        return self._cached(("rx", names, pattern),
                            lambda: as_mask(pc.match_substring_regex(arr, pattern)))

    def _valid(self, names: tuple[str, ...]) -> Mask:
        kind, arr = self.column(names)
        if kind == NULL:
            return self.false
        if arr is None:
            return self.true
        return self._cached(("valid", names),
                            lambda: as_mask(pc.is_valid(arr)))

    # -- nodes -----------------------------------------------------------------------
    def eval(self, node: Node) -> tuple[Mask, Mask]:
        """(upper, lower) masks of ``node`` on this block."""
        memo = self._memo
        found = memo.get(node)
        if found is None:
            found = memo[node] = self._eval(node)
        return found

    def _eval(self, node: Node) -> tuple[Mask, Mask]:
        if isinstance(node, Opaque):
            return self.true, self.false
        if isinstance(node, Not):
            up, lo = self.eval(node.child)
            return _not(lo), _not(up)
        if isinstance(node, And | Or):
            results = [self.eval(c) for c in node.children]
            op = _and if isinstance(node, And) else _or
            return reduce(op, [r[0] for r in results]), reduce(op, [r[1] for r in results])
        return self._leaf(node)

    def _exact(self, m: Mask, unknown: Mask | None) -> tuple[Mask, Mask]:
        if unknown is None:
            return m, m
        return _or(m, unknown), _and(m, _not(unknown))

    def _leaf(self, leaf: Leaf) -> tuple[Mask, Mask]:
        kind, arr = self.column(leaf.names)
        if kind == OTHER:
            return self.true, self.false
        op = leaf.op
        if op == "null":
            m = _not(self._valid(leaf.names))
            return m, m
        if op == "exists":
            m = self._valid(leaf.names) if leaf.arg else _not(self._valid(leaf.names))
            return m, m
        if kind == NULL:
            return self.false, self.false
        if op == "str":
            return self._str(leaf.names, leaf.arg)
        if op == "num":
            return self._num(kind, arr, leaf.names, leaf.arg)
        if op == "bool":
            return self._bool(kind, arr, leaf.names, leaf.arg)
        if op == "re":
            return self._re(kind, arr, leaf.names, leaf.arg)
        if op == "cidr":
            return self._cidr(kind, arr, leaf.names, leaf.arg)
        if op == "cmp":
            return self._cmp(kind, arr, leaf.names, leaf.arg)
        return self.true, self.false

    def _str(self, names: tuple[str, ...], s: StrSet) -> tuple[Mask, Mask]:
        kind, arr = self.column(names)
        if (kind == STR and s.lowered and s.exact and not s.anything and s.pattern is None
                and not (s.prefixes or s.suffixes or s.contains)
                and not any(_CASED.search(x) for x in s.exact)):
            # No letters in the literals: lowering cannot make another text equal them.
            m = as_mask(pc.is_in(arr, value_set=pa.array(sorted(s.exact), pa.string())))
            return m, m
        got = self.text(names, s.lowered)
        if got is None:
            return self.true, self.false
        t, unknown = got
        if unknown is not None and s.pattern is None and all(
            _SAFE_LOWER.match(x) for x in (*s.exact, *s.prefixes, *s.suffixes, *s.contains)
        ):
            unknown = None  # see _SAFE_LOWER
        if s.anything:
            return self._exact(self._valid(names), None)
        parts: list[Mask] = []
        if s.exact:
            parts.append(pc.is_in(t, value_set=pa.array(sorted(s.exact), pa.string())))
        for p in s.prefixes:
            parts.append(pc.starts_with(t, pattern=p))
        for p in s.suffixes:
            parts.append(pc.ends_with(t, pattern=p))
        for p in s.contains:
            parts.append(pc.match_substring(t, pattern=p))
        if s.pattern is not None:
            parts.append(pc.match_substring_regex(t, pattern=s.pattern))
        m = as_mask(reduce(pc.or_kleene, parts))
        return self._exact(m, unknown)

    def _canon(self, names: tuple[str, ...]) -> Mask:
        return self._mask_of(names, _CANON_INT)

    def _num(self, kind: str, arr: Any, names: tuple[str, ...],
             numbers: frozenset[int | float]) -> tuple[Mask, Mask]:
        ints = sorted({int(x) for x in numbers if float(x).is_integer()
                       and -(1 << 63) <= int(x) < (1 << 63)})
        if kind == INT:
            if not ints:
                return self.false, self.false
            vals = arr if pa.types.is_int64(arr.type) else pc.cast(arr, pa.int64())
            m = as_mask(pc.is_in(vals, value_set=pa.array(ints, pa.int64())))
            return m, m
        if kind == FLOAT:
            floats = pa.array(sorted(float(x) for x in numbers), pa.float64())
            m = as_mask(pc.is_in(arr, value_set=floats))
            return self._exact(m, self._big(arr))
        if kind == STR:
            texts = sorted({str(int(x)) if float(x).is_integer() else repr(float(x))
                            for x in numbers})
            m = as_mask(pc.is_in(arr, value_set=pa.array(texts, pa.string())))
            unknown = _and(self._valid(names), _not(self._canon(names)))
            return _or(m, unknown), m
        return self.false, self.false  # booleans are not numbers

    def _big(self, arr: Any) -> Mask | None:
        # Beyond 2**53 a double and Python's int compare differently from Arrow's casts.
        big = as_mask(pc.greater_equal(pc.abs(pc.cast(arr, pa.float64())), _BIG))
        return big if any_true(big) else None

    def _bool(self, kind: str, arr: Any, names: tuple[str, ...],
              bools: frozenset[bool]) -> tuple[Mask, Mask]:
        if kind == BOOL:
            m = as_mask(pc.is_in(arr, value_set=pa.array(sorted(bools), pa.bool_())))
            return m, m
        if kind == STR:
            got = self.text(names, True)
            if got is None:
                return self.true, self.false
            t, unknown = got
            texts = sorted("true" if b else "false" for b in bools)
            m = as_mask(pc.is_in(t, value_set=pa.array(texts, pa.string())))
            return self._exact(m, unknown)
        return self.false, self.false

    def _re(self, kind: str, arr: Any, names: tuple[str, ...], pattern: str
            ) -> tuple[Mask, Mask]:
        if kind == STR:
            m = as_mask(pc.match_substring_regex(arr, pattern=pattern))
            unsafe = self._mask_of(names, _RE_UNSAFE)
            return self._exact(m, unsafe if any_true(unsafe) else None)
        if kind in (INT, BOOL):
            m = as_mask(pc.match_substring_regex(pc.cast(arr, pa.string()), pattern=pattern))
            return m, m
        return self.true, self.false

    def _cidr(self, kind: str, arr: Any, names: tuple[str, ...],
              arg: tuple[int, int]) -> tuple[Mask, Mask]:
        if kind != STR:
            return self.false, self.false  # str(number) is never an address
        lo, hi = arg
        canon, ints = self._ipv4(names)
        m = as_mask(pc.and_kleene(pc.greater_equal(ints, lo), pc.less_equal(ints, hi)))
        unknown = self._cached(("ip?", names), lambda: self._maybe_ipv4(names, canon))
        return self._exact(m, unknown)

    def _ipv4(self, names: tuple[str, ...]) -> tuple[Mask, Any]:
        """Rows holding a canonical dotted quad, and its value as an integer (else null)."""
        def make() -> tuple[Mask, Any]:
            _, arr = self.column(names)
            canon = self._mask_of(names, _CANON_IPV4)
            quads = pc.split_pattern(pc.if_else(canon, arr, pa.scalar(None, arr.type)), ".")
            value: Any = None
            for i in range(4):
                octet = pc.cast(pc.list_element(quads, i), pa.int64())
                value = octet if value is None else pc.add(pc.multiply(value, 256), octet)
            return canon, value
        return self._cached(("ipv4", names), make)  # type: ignore[no-any-return]

    def _maybe_ipv4(self, names: tuple[str, ...], canon: Mask) -> Mask | None:
        # ipaddress strips the text first: " 10.0.0.1" is an address too.
        other = _and(self._valid(names), _not(canon))
        if not any_true(other):
            return None
        return _and(other, self._mask_of(names, _MAYBE_IPV4))

    def _cmp(self, kind: str, arr: Any, names: tuple[str, ...],
             arg: tuple[str, int | float]) -> tuple[Mask, Mask]:
        fn, ref = arg
        func = getattr(pc, fn)
        if kind in (INT, FLOAT):
            m = as_mask(func(arr, ref))
            return self._exact(m, self._big(arr))
        if kind == STR:
            canon = self._canon(names)
            nums = pc.cast(pc.if_else(canon, arr, pa.scalar(None, pa.string())), pa.int64())
            m = _and(as_mask(func(nums, ref)), canon)
            unknown = _and(self._valid(names), _not(canon))
            big = self._big(nums)
            if big is not None:
                unknown = _or(unknown, big)
            return _or(m, unknown), _and(m, _not(unknown))
        return self.false, self.false
