"""A block of ECS JSON lines as Arrow sees it: the columns the rules read, and its lines.

:class:`ColumnSchema` is the explicit ``pyarrow.json`` read schema of the columns the
rules read (every nested spelling of a dotted name, types learnt from the data), and
how to take each name's values out of a parsed block; :class:`BlockLines` splits a block
into its lines with Arrow kernels, so that a matched row's own line (and byte offset)
can be handed to the row-wise parser without per-line Python work (issue 3 item 7).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

#: The type that marks a struct prefix in the learnt types (its fields are its children).
STRUCT_MARK = pa.struct([])


# --------------------------------------------------------------------------- schema


class ColumnSchema:
    """The columns the rules read: their types, the explicit read schema, extraction."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self.paths = {n: tuple(n.split(".")) for n in self.names}
        # The ECS parser flattens {"event": {"code": x}} and {"event.code": x} alike:
        # every way to write a name as nested keys is read, and they are merged.
        self.spellings = {n: _splits(p) for n, p in self.paths.items()}
        self.types: dict[tuple[str, ...], pa.DataType] = {}
        self.children: dict[tuple[str, ...], list[str]] = {}
        for spellings in self.spellings.values():
            for path in spellings:
                for i in range(1, len(path) + 1):
                    prefix = path[:i]
                    if i < len(path):
                        kids = self.children.setdefault(prefix, [])
                        if path[i] not in kids:
                            kids.append(path[i])
                        self.types[prefix] = STRUCT_MARK
                    else:
                        self.types.setdefault(prefix, pa.string())
        self._options: pj.ParseOptions | None = None

    def parse_options(self) -> pj.ParseOptions:
        """Options that read only the needed columns, typed as last seen."""
        if self._options is None:
            top = sorted({p[0] for p in self.types})
            schema = pa.schema([pa.field(t, self._type((t,))) for t in top])
            self._options = pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            )
        return self._options

    def _type(self, prefix: tuple[str, ...]) -> pa.DataType:
        t = self.types[prefix]
        if pa.types.is_struct(t):
            return pa.struct([
                pa.field(k, self._type((*prefix, k))) for k in self.children.get(prefix, [])
            ])
        return t

    def learn(self, schema: pa.Schema) -> None:
        """Take the types a full (inferring) read found, for the next explicit reads."""
        changed = False
        for prefix in self.types:
            t = _type_at(schema, prefix)
            if t is None or pa.types.is_null(t):
                continue
            if pa.types.is_timestamp(t) or pa.types.is_date(t):
                t = pa.string()  # inferred from text: read the text back
            if pa.types.is_struct(t):
                t = STRUCT_MARK
            if t != self.types[prefix]:
                self.types[prefix] = t
                changed = True
        if changed:
            self._options = None

    def columns(self, table: pa.Table) -> dict[str, Any]:
        """Each needed name's values (None when absent or under a non-object)."""
        out: dict[str, Any] = {}
        cache: dict[tuple[str, ...], Any] = {}
        top = set(table.column_names)

        def get(prefix: tuple[str, ...]) -> Any:
            if prefix in cache:
                return cache[prefix]
            arr: Any = None
            if len(prefix) == 1:
                if prefix[0] in top:
                    arr = table.column(prefix[0]).combine_chunks()
            else:
                parent = get(prefix[:-1])
                if parent is not None and pa.types.is_struct(parent.type):
                    i = parent.type.get_field_index(prefix[-1])
                    if i >= 0:
                        arr = pc.struct_field(parent, [i])
            cache[prefix] = arr
            return arr

        for name, spellings in self.spellings.items():
            found = [a for a in map(get, spellings) if a is not None and _has_values(a)]
            if len(found) > 1:
                if len({a.type for a in found}) > 1:
                    raise RowWise(f"{name}: spelled two ways with different types")
                present = [pc.cast(pc.is_valid(a), pa.int8()) for a in found]
                if pc.max(functools.reduce(pc.add, present)).as_py() > 1:
                    raise RowWise(f"{name}: spelled two ways in one record")
                out[name] = pc.coalesce(*found)
            else:
                out[name] = found[0] if found else get(spellings[0])
        return out


class RowWise(Exception):
    """This block is read row by row (the columnar form would not be exact)."""


def _splits(path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every way to write ``path`` as keys: nested first, then with dotted keys."""
    if len(path) == 1:
        return [path]
    out: list[tuple[str, ...]] = []
    for cut in range(1, len(path) + 1):
        head = ".".join(path[:cut])
        for rest in (_splits(path[cut:]) if cut < len(path) else [()]):
            out.append((head, *rest))
    # Nested spelling first (the common one), the rest in a stable order.
    out.sort(key=lambda p: (-len(p), p))
    return out


def _has_values(arr: Any) -> bool:
    return bool(arr.null_count < len(arr)) and not pa.types.is_null(arr.type)


def _type_at(schema: pa.Schema, prefix: tuple[str, ...]) -> pa.DataType | None:
    i = schema.get_field_index(prefix[0])
    if i < 0:
        return None
    t = schema.field(i).type
    for part in prefix[1:]:
        if not pa.types.is_struct(t):
            return None
        j = t.get_field_index(part)
        if j < 0:
            return None
        t = t.field(j).type
    return t


# --------------------------------------------------------------------------- lines


class BlockLines:
    """The lines of a block, split by Arrow (no per-line Python work)."""

    def __init__(self, block: bytes) -> None:
        self.block = block
        data = pa.py_buffer(block)
        whole = pa.Array.from_buffers(pa.large_binary(), 1, [
            None, pa.array([0, len(block)], pa.int64()).buffers()[1], data
        ])  # the block as one value, without a copy
        pieces = pc.split_pattern(whole, b"\n").values
        if block.endswith(b"\n"):
            pieces = pieces.slice(0, len(pieces) - 1)  # the empty piece after the last
        self.lines: pa.LargeBinaryArray = pieces
        self.count = len(pieces)
        # The pieces' offsets leave out the newlines: line i starts at offsets[i] + i.
        self.offsets = pa.Array.from_buffers(
            pa.int64(), self.count + 1, [None, pieces.buffers()[1]], offset=pieces.offset
        )

    def longest(self) -> int:
        """The length of the longest line."""
        if not self.count:
            return 0
        return int(pc.max(pc.binary_length(self.lines)).as_py())

    def nonblank(self) -> pa.Int64Array:
        """Indices of the lines the row-wise reader parses (``line.strip()`` not empty)."""
        first = pc.binary_slice(self.lines, 0, 1)
        odd = pc.indices_nonzero(pc.not_equal(first, pa.scalar(b"{", pa.large_binary())))
        suspects = odd.to_pylist()
        if not suspects:
            return pa.array(range(self.count), pa.int64())
        texts = pc.take(self.lines, odd).to_pylist()
        blank = {i for i, t in zip(suspects, texts, strict=True) if not t.strip()}
        return pa.array([i for i in range(self.count) if i not in blank], pa.int64())
