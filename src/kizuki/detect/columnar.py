"""The columnar scan: Sigma rules over ECS JSON lines, parsed and matched in C (issue 3 item 7).

The row-wise path builds a Python :class:`~kizuki.model.Event` for every line and runs
the candidate predicates on it. Here a file is read in byte blocks cut at newlines;
``pyarrow.json`` parses each block (in parallel, only the columns the rules read, by an
explicit schema), every rule's detection runs as ``pyarrow.compute`` kernels over the
block (:mod:`kizuki.detect.columnar_compile`), and an ``Event`` is built only for the
rows some rule may match — by :meth:`EcsJsonParser.parse_line` on the row's own line, so
the event (fields, logsource, timestamp, ``Origin(path, offset)``) is the row-wise one.
Each of those rows is then confirmed with the row-wise predicates of the rules that
selected it: the matches are exactly the row-wise matches, in index order.

Whatever the columnar form cannot take exactly falls back, never guesses:

- a rule part it cannot express (keywords, field references, a Python regex RE2 may
  read differently, ...) widens to "every row" and the row-wise predicate decides;
- a block ``pyarrow`` cannot parse (a malformed line, a type that changes between
  rows, a dotted key such as ``"event.code"`` written literally, a BOM) is read row by
  row with the ECS parser, so bad lines become warnings and good lines still count;
- a file that does not sniff as ECS JSON lines is read by its own parser, row by row.

Use::

    scan = scan_jsonl(paths, index)
    engine.feed_matched(scan)               # (event, matched rules) for matched rows
    engine.feed_matched((), seen=scan.rows) # the rows read, for the statistics
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from kizuki.detect.columnar_block import BlockLines, ColumnSchema, RowWise
from kizuki.detect.columnar_compile import Node, compile_rule_nodes, field_names
from kizuki.detect.columnar_eval import INT, NULL, STR, BlockEval
from kizuki.errors import RecordError
from kizuki.model import Event
from kizuki.rules import CompiledRule, RuleIndex
from kizuki.rules.index import Key
from kizuki.rules.modifiers import Predicate
from kizuki.sources import registry
from kizuki.sources.base import ParseContext, SourceFile, SourceSettings, WarningSink
from kizuki.sources.reader import iter_sources
from kizuki.sources.winjson import EcsJsonParser, ecs_logsource, parse_time

#: Bytes read per block; pyarrow parses a block on all cores in sub-blocks. 4 MiB keeps
#: the Arrow pool near 75 MiB at the same speed as 16 MiB (which peaks near 260 MiB).
DEFAULT_BLOCK_SIZE = 4 << 20
#: The fields the ECS parser derives the logsource and event id from.
KEY_FIELDS = ("winlog.channel", "event.code", "event.module", "event.dataset", "EventID")
#: Names the ECS parser takes out of the fields: ``message`` becomes ``Event.message``
#: (``@timestamp`` becomes the event time: rules see it as opaque, the scan checks it).
_POPPED = ("message",)
_BOM = b"\xef\xbb\xbf"

#: Per block: each row's group id, and each group's (rule position, variant key) list.
_Groups = tuple[Any, list[list[tuple[int, "str | None"]]]]


# --------------------------------------------------------------------------- scan


@dataclass
class ScanStats:
    """What a scan did: rows read, blocks parsed by Arrow or row by row, candidates."""

    rows: int = 0
    blocks: int = 0
    row_blocks: int = 0
    candidates: int = 0
    matched: int = 0
    files: int = 0
    row_files: int = 0
    warnings: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """The figures as a plain dict."""
        return {
            "rows": self.rows, "blocks": self.blocks, "row_blocks": self.row_blocks,
            "candidates": self.candidates, "matched": self.matched, "files": self.files,
            "row_files": self.row_files, "warnings": dict(self.warnings),
        }


class ColumnarScan:
    """An iterable of ``(event, matched rules)`` for the matched rows of some files.

    Iterate it once; ``rows`` (and ``stats``) then say how many records were read, so
    the engine's statistics can count the rows that matched nothing.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        rules: RuleIndex | Iterable[CompiledRule],
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        settings: SourceSettings | None = None,
        sink: WarningSink | None = None,
        confirm: bool = False,
    ) -> None:
        self.paths = list(paths)
        self.confirm = confirm
        self.index = rules if isinstance(rules, RuleIndex) else RuleIndex(rules)
        self.rules: list[CompiledRule] = list(self.index.rules)
        self.block_size = max(1 << 16, block_size)
        self.settings = settings or SourceSettings()
        self.sink = sink
        self.stats = ScanStats()
        self.nodes: list[dict[str | None, Node]] = [compile_rule_nodes(r) for r in self.rules]
        names = field_names([n for d in self.nodes for n in d.values()]) | set(KEY_FIELDS)
        names.add("@timestamp")
        # @timestamp is read to check it as the parser would; rules see it as opaque.
        self.schema = ColumnSchema(n for n in names if n not in _POPPED)
        self._parser = EcsJsonParser()
        self._groups: dict[tuple[Any, ...], list[tuple[int, str | None]]] = {}
        self._preds: dict[Key, dict[int, Predicate]] = {}

    @property
    def rows(self) -> int:
        """Records read so far (matched or not)."""
        return self.stats.rows

    def __iter__(self) -> Iterator[tuple[Event, list[CompiledRule]]]:
        for source in iter_sources(self.paths, self._note):
            yield from self._source(source)

    def _note(self, warning: Any) -> None:
        self.stats.warnings[warning.kind] += 1
        if self.sink is not None:
            self.sink(warning)

    # -- sources -----------------------------------------------------------------------
    def _source(self, source: SourceFile) -> Iterator[tuple[Event, list[CompiledRule]]]:
        ctx = ParseContext(source, self.settings, self.sink)
        try:
            head = source.head()
        except (OSError, EOFError) as exc:
            ctx.warn(None, "unreadable", f"cannot read: {exc}")
            self.stats.warnings.update(ctx.warnings)
            return
        parser, _ = registry.sniff(head, source.name)
        self.stats.files += 1
        try:
            if parser is None:
                ctx.warn(None, "unknown-format", "no parser recognises this file")
            elif parser.NAME != EcsJsonParser.NAME:
                self.stats.row_files += 1
                yield from self._match_events(parser.parse(source, ctx))
            else:
                yield from self._blocks(source, ctx)
        finally:
            self.stats.warnings.update(ctx.warnings)

    def _match_events(self, events: Iterable[Event]
                      ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        match = self.index.match
        stats = self.stats
        for event in events:
            stats.rows += 1
            matched = match(event)
            if matched:
                stats.matched += 1
                yield event, matched

    def _blocks(self, source: SourceFile, ctx: ParseContext
                ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        offset = 0
        carry = b""
        with source.open() as fh:
            while True:
                chunk = fh.read(self.block_size)
                if not chunk:
                    if carry:
                        yield from self._block(carry, offset, ctx)
                    return
                data = carry + chunk if carry else chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                block, carry = data[: cut + 1], data[cut + 1:]
                yield from self._block(block, offset, ctx)
                offset += len(block)

    # -- blocks ------------------------------------------------------------------------
    def _block(self, block: bytes, base: int, ctx: ParseContext
               ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        self.stats.blocks += 1
        lines = BlockLines(block)
        found = None
        if not (base == 0 and block.startswith(_BOM)):
            try:
                found = self._columnar(block, lines)
            except RowWise:
                found = None
        if found is None:
            self.stats.row_blocks += 1
            yield from self._row_block(block, base, ctx)
            return
        ev, groups, rows, bad = found
        self.stats.rows += ev.n - len(bad)
        if bad:
            # Records whose time the parser refuses: the same warnings, not counted.
            starts, texts = _line_info(lines, rows, pa.array(sorted(bad), pa.int64()))
            for start, text in zip(starts, texts, strict=True):
                _parse(self._parser.parse_line, text.rstrip(b"\r\n"), base + start, ctx)
        yield from self._candidates(block, base, ctx, ev, groups, rows, lines, bad)

    def _columnar(self, block: bytes, lines: BlockLines
                  ) -> tuple[BlockEval, _Groups, pa.Int64Array, set[int]] | None:
        """The block parsed by Arrow, or None when it must be read row by row."""
        table = self._read(block, lines.longest())
        if table is None:
            return None
        rows = lines.nonblank()
        if table.num_rows != len(rows):
            return None  # a line Arrow reads as several records (or none): rows decide
        cols = self.schema.columns(table)
        cols.update(dict.fromkeys(_POPPED))
        bad = _bad_times(cols.pop("@timestamp", None), table.num_rows)
        ev = BlockEval(cols, table.num_rows)
        groups = self._group_ids(ev)
        return None if groups is None else (ev, groups, rows, bad)

    def _read(self, block: bytes, longest: int) -> pa.Table | None:
        buf = pa.py_buffer(block)
        # Sub-blocks let Arrow parse on every core; a line must fit in one.
        sub = max(1 << 20, min(len(block) // 2 + 1, 4 << 20), 2 * longest + 2)
        ropts = pj.ReadOptions(use_threads=True, block_size=sub)
        try:
            return pj.read_json(pa.BufferReader(buf), read_options=ropts,
                                parse_options=self.schema.parse_options())
        except (pa.ArrowException, ValueError):
            pass
        try:
            table = pj.read_json(pa.BufferReader(buf), read_options=ropts)
        except (pa.ArrowException, ValueError):
            return None
        self.schema.learn(table.schema)
        return table

    def _group_ids(self, ev: BlockEval) -> _Groups | None:
        """Each row's (logsource, event id) group, and each group's (rule, variant) list."""
        codes: Any = None
        decoders: list[tuple[int, list[Any], int]] = []  # (key position, values, size)
        for pos, name in enumerate(KEY_FIELDS):
            kind, arr = ev.column((name,))
            if kind == NULL:
                continue
            if kind not in (STR, INT):
                return None  # a float or boolean code: the row-wise path decides
            uniq = pc.unique(arr)
            idx = pc.cast(pc.index_in(arr, value_set=uniq), pa.int64())
            size = len(uniq)
            codes = idx if codes is None else pc.add(pc.multiply(codes, size), idx)
            decoders.append((pos, uniq.to_pylist(), size))
        if codes is None:
            return pa.nulls(0, pa.int64()), [self._group((None,) * len(KEY_FIELDS))]
        uniq_codes = pc.unique(codes)
        gids = pc.index_in(codes, value_set=uniq_codes)
        groups: list[list[tuple[int, str | None]]] = []
        for code in uniq_codes.to_pylist():
            values: list[Any] = [None] * len(KEY_FIELDS)
            for pos, uvals, size in reversed(decoders):
                code, i = divmod(code, size)
                values[pos] = uvals[i]
            groups.append(self._group(tuple(values)))
        return gids, groups

    def _group(self, values: tuple[Any, ...]) -> list[tuple[int, str | None]]:
        key = tuple((type(v).__name__, v) for v in values)
        found = self._groups.get(key)
        if found is None:
            fields = dict(zip(KEY_FIELDS[:4], values[:4], strict=True))
            ls = ecs_logsource(fields)
            eid = values[4]
            if eid is None and ls.product == "windows":
                eid = values[1]  # event.code, as kizuki.rules.compile.event_id_of
            if eid is not None and type(eid) is not int:
                try:
                    eid = int(eid)
                except (TypeError, ValueError):
                    eid = None
            rkey = (
                ls.product.lower() if ls.product else None,
                ls.service.lower() if ls.service else None,
                ls.category.lower() if ls.category else None,
                eid,
            )
            found = []
            for j, rule in enumerate(self.rules):
                hit = rule.variant_for(*rkey)
                if hit is not None:
                    found.append((j, hit[1]))
            self._groups[key] = found
        return found

    def _candidates(
        self, block: bytes, base: int, ctx: ParseContext, ev: BlockEval, groups: _Groups,
        rows: pa.Int64Array, lines: BlockLines, bad: set[int],
    ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        gids, per_group = groups
        wanted: dict[tuple[int, str | None], list[int]] = {}
        for g, entries in enumerate(per_group):
            for entry in entries:
                wanted.setdefault(entry, []).append(g)
        hit_rows: list[Any] = []
        hit_rules: list[Any] = []
        hit_sure: list[Any] = []
        for (j, vkey), gs in sorted(wanted.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            upper, lower = ev.eval(self.nodes[j][vkey])
            if len(gs) != len(per_group):
                upper = pc.and_(upper, pc.is_in(gids, value_set=pa.array(gs, gids.type)))
            idx = pc.indices_nonzero(upper)
            if len(idx):
                hit_rows.append(idx)
                hit_rules.append(pa.array([j] * len(idx), pa.int64()))
                # Rows of `lower` surely match: no row-wise confirmation needed.
                hit_sure.append(pc.take(lower, idx) if not self.confirm
                                else pa.array([False] * len(idx), pa.bool_()))
        if not hit_rows:
            return
        pairs = pa.table({
            "row": pa.concat_arrays(hit_rows), "rule": pa.concat_arrays(hit_rules),
            "sure": pa.concat_arrays(hit_sure),
        }).sort_by([("row", "ascending"), ("rule", "ascending")])
        row_list = pairs.column("row").to_pylist()
        rule_list = pairs.column("rule").to_pylist()
        sure_list = pairs.column("sure").to_pylist()
        cand = pc.unique(pairs.column("row").combine_chunks())
        line_starts, line_texts = _line_info(lines, rows, cand)
        self.stats.candidates += len(cand)
        parse_line = self._parser.parse_line
        rules = self.rules
        k = 0
        total = len(row_list)
        for row, start, text in zip(cand.to_pylist(), line_starts, line_texts, strict=True):
            js = []
            while k < total and row_list[k] == row:
                js.append(rule_list[k] if not sure_list[k] else -1 - rule_list[k])
                k += 1
            if row in bad:
                continue  # already warned about
            line = text.rstrip(b"\r\n")
            offset = base + start
            event = _parse(parse_line, line, offset, ctx)
            if event is None:
                continue
            preds = self._predicates(event) if any(j >= 0 for j in js) else {}
            matched = []
            for j in js:
                if j < 0:
                    matched.append(rules[-1 - j])
                    continue
                p = preds.get(j)
                if p is not None and p(event):
                    matched.append(rules[j])
            if matched:
                self.stats.matched += 1
                yield event, matched

    def _predicates(self, event: Event) -> dict[int, Predicate]:
        key = self.index.key_of(event)
        found = self._preds.get(key)
        if found is None:
            found = {}
            for j, rule in enumerate(self.rules):
                hit = rule.variant_for(*key)
                if hit is not None:
                    found[j] = hit[0]
            self._preds[key] = found
        return found

    def _row_block(self, block: bytes, base: int, ctx: ParseContext
                   ) -> Iterator[tuple[Event, list[CompiledRule]]]:
        """A block pyarrow could not take, read exactly as ``LineParser.parse`` would."""
        parse_line = self._parser.parse_line
        pos = 0

        def events() -> Iterator[Event]:
            nonlocal pos
            pieces = block.split(b"\n")
            if block.endswith(b"\n"):
                pieces.pop()
            for raw in pieces:
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    event = _parse(parse_line, line, base + pos, ctx)
                    if event is not None:
                        yield event
                pos += len(raw) + 1

        yield from self._match_events(events())


def _line_info(lines: BlockLines, rows: pa.Int64Array, which: Any) -> tuple[list[int], list[bytes]]:
    """(byte offset in the block, raw text) of the lines of some rows."""
    line_of = pc.take(rows, which)
    starts = pc.add(pc.take(lines.offsets, line_of), line_of).to_pylist()
    return starts, pc.take(lines.lines, line_of).to_pylist()


#: ISO 8601 times ``datetime.fromisoformat`` surely takes (days up to 28); others are
#: checked one by one with the parser's own ``parse_time``.
_FAST_TIME = (r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3])"
              r":[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$")


def _bad_times(arr: Any, n: int) -> set[int]:
    """Rows whose ``@timestamp`` the ECS parser refuses (RecordError or worse)."""
    if arr is None:
        return set(range(n))  # no record of the block has one
    if pa.types.is_string(arr.type):
        odd = pc.indices_nonzero(pc.invert(pc.fill_null(
            pc.match_substring_regex(arr, _FAST_TIME), False)))
    else:
        odd = pa.array(range(len(arr)), pa.int64())
    bad: set[int] = set()
    if not len(odd):
        return bad
    for i, value in zip(odd.to_pylist(), pc.take(arr, odd).to_pylist(), strict=True):
        try:
            parse_time(value)
        except (RecordError, ValueError, OverflowError, OSError):
            bad.add(i)
    return bad


def _parse(parse_line: Any, line: bytes, offset: int, ctx: ParseContext) -> Event | None:
    """One line through the ECS parser, bad records as warnings (as ``LineParser.parse``)."""
    try:
        event: Event | None = parse_line(line, offset, None, ctx)
    except RecordError as exc:
        ctx.warn(offset, exc.kind, exc.message, line)
        return None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        ctx.warn(offset, "bad-record", f"{type(exc).__name__}: {exc}", line)
        return None
    return event


def scan_jsonl(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    rules: RuleIndex | Iterable[CompiledRule],
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    settings: SourceSettings | None = None,
    sink: WarningSink | None = None,
    confirm: bool = False,
) -> ColumnarScan:
    """Scan JSON-lines files (folders and archives too) with ``rules``, columnar.

    Returns a :class:`ColumnarScan`: iterate it for ``(event, matched rules)`` of every
    matched row, in file order, then read ``.rows`` for the number of records read.
    The pairs are exactly what the row-wise ``Reader`` → ``RuleIndex.match`` gives.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    return ColumnarScan(paths, rules, block_size=block_size, settings=settings, sink=sink,
                        confirm=confirm)


def matched_pairs(scan: ColumnarScan) -> Sequence[tuple[Event, list[CompiledRule]]]:
    """All pairs of a scan as a list (tests, small inputs)."""
    return list(scan)
