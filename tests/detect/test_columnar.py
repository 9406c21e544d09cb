"""The columnar scan gives exactly the row-wise matches (issue 3 item 7).

Every test compares :func:`kizuki.detect.columnar.scan_jsonl` with the row-wise path
(``Reader`` → ``RuleIndex.match``) on the same input: the same (event origin, matched
rule ids) pairs in the same order, the same number of records read, and — where lines
are bad — the same warnings.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from kizuki.detect import Engine
from kizuki.detect.columnar import ColumnarScan, scan_jsonl
from kizuki.detect.columnar_compile import OPAQUE, compile_rule_nodes, is_opaque
from kizuki.rules import CompiledRule, RuleIndex, load_ruleset, rules_from_yaml
from kizuki.sources import Reader, SourceSettings

ROOT = Path(__file__).resolve().parents[2]
BENCH = (ROOT.parent / "shared" / "bench").resolve()
BENCH_RULES = BENCH / "peers" / "sigma_rules"

Pairs = list[tuple[tuple[str, int | None], tuple[str, ...]]]


def _key(rules: Sequence[CompiledRule]) -> tuple[str, ...]:
    return tuple(r.id or r.title for r in rules)


def rowwise(paths: Sequence[Path], index: RuleIndex) -> tuple[Pairs, int, list[tuple[object, ...]]]:
    """(matches, records read, warnings) of the row-wise path."""
    warnings: list[object] = []
    reader = Reader(SourceSettings(), sink=warnings.append)
    out: Pairs = []
    n = 0
    for event in reader.read(list(paths)):
        n += 1
        matched = index.match(event)
        if matched:
            out.append(((event.origin.display, event.origin.offset), _key(matched)))
    return out, n, [(w.offset, w.kind) for w in warnings]  # type: ignore[attr-defined]


def columnar(paths: Sequence[Path], index: RuleIndex, **kw: object
             ) -> tuple[Pairs, ColumnarScan, list[tuple[object, ...]]]:
    """(matches, the scan, warnings) of the columnar path."""
    warnings: list[object] = []
    scan = scan_jsonl(list(paths), index, sink=warnings.append, **kw)  # type: ignore[arg-type]
    out: Pairs = [((e.origin.display, e.origin.offset), _key(m)) for e, m in scan]
    return out, scan, [(w.offset, w.kind) for w in warnings]  # type: ignore[attr-defined]


def assert_same(paths: Sequence[Path], index: RuleIndex, **kw: object) -> ColumnarScan:
    """Both paths agree; returns the scan for further checks."""
    want, n, warns = rowwise(paths, index)
    got, scan, got_warns = columnar(paths, index, **kw)
    assert got == want
    assert scan.rows == n
    assert sorted(got_warns, key=repr) == sorted(warns, key=repr)
    confirmed, scan2, _ = columnar(paths, index, confirm=True, **kw)
    assert confirmed == want
    assert scan2.rows == n
    return scan


def write_lines(path: Path, records: Sequence[dict[str, object] | bytes]) -> Path:
    """Records as JSON lines (bytes are written as they are)."""
    with path.open("wb") as fh:
        for r in records:
            fh.write((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n")
    return path


@pytest.fixture(scope="module")
def bench_index() -> RuleIndex:
    if not BENCH_RULES.is_dir():
        pytest.skip(f"benchmark rules not found at {BENCH_RULES}")
    rs = load_ruleset([BENCH_RULES])
    assert not rs.errors and len(rs.rules) == 20
    return RuleIndex(rs.rules)


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (BENCH / "gen_events.py").is_file():
        pytest.skip("the shared workload generator is not beside the checkout")
    out = tmp_path_factory.mktemp("work") / "ev.jsonl"
    subprocess.run(
        [sys.executable, str(BENCH / "gen_events.py"), "-n", "30000", "-k", "5", "--seed", "7",
         "-o", str(out), "--truth", str(out.with_suffix(".truth.json"))],
        check=True, capture_output=True,
    )
    return out


# --------------------------------------------------------------------------- workload


def test_bench_rules_compile_exactly(bench_index: RuleIndex) -> None:
    """All 20 benchmark rules become columnar expressions without opaque parts."""
    for rule in bench_index.rules:
        nodes = compile_rule_nodes(rule)
        assert not any(is_opaque(n) for n in nodes.values()), rule.title


def test_workload_same_matches(workload: Path, bench_index: RuleIndex) -> None:
    scan = assert_same([workload], bench_index)
    assert scan.stats.row_blocks == 0 and scan.stats.matched > 1000
    # Exact expressions: every candidate row is a match, no Event is built in vain.
    assert scan.stats.candidates == scan.stats.matched


def test_workload_small_blocks(workload: Path, bench_index: RuleIndex) -> None:
    """Blocks cut at newlines anywhere in the file change nothing."""
    scan = assert_same([workload], bench_index, block_size=100_000)
    assert scan.stats.blocks > 50


def test_engine_alerts_same(workload: Path, bench_index: RuleIndex) -> None:
    """Engine.feed_matched over the scan raises the alerts Engine.run raises."""
    want = Engine(bench_index).run(Reader(SourceSettings()).read([workload]))
    engine = Engine(bench_index)
    scan = scan_jsonl(workload, bench_index)
    got = engine.feed_matched(scan)
    got += engine.feed_matched((), seen=scan.rows)
    got += engine.close()
    assert [a.id for a in got] == [a.id for a in want]
    assert engine.events_seen == scan.rows == 30000


# --------------------------------------------------------------------------- fallbacks


def _ev(code: str, **fields: object) -> dict[str, object]:
    rec: dict[str, object] = {"@timestamp": "2024-03-04T00:00:00.5Z", "event": {"code": code},
                              "host": {"name": "WS-01"}}
    rec.update(fields)
    return rec


def test_malformed_lines_fall_back_per_block(tmp_path: Path, bench_index: RuleIndex) -> None:
    """A bad line makes Arrow reject its block: that block is read row by row, so the bad
    line becomes a warning at its offset and the good lines around it still match."""
    good = _ev("4625", source={"ip": "203.0.113.9"})
    records: list[dict[str, object] | bytes] = [good] * 50
    records += [b'{"@timestamp": "2024-03-04T00:00:01Z", "event": {"code": "4625"', b"",
                b"   ", b"[1, 2]", orjson.dumps(good) + b" " + orjson.dumps(good),
                orjson.dumps({**good, "@timestamp": "not a time"})]
    records += [good] * 50
    path = write_lines(tmp_path / "bad.jsonl", records)
    scan = assert_same([path], bench_index, block_size=1 << 16)
    assert scan.stats.row_blocks >= 1
    assert scan.stats.warnings["bad-json"] == 3


def test_bad_block_does_not_spoil_the_next(tmp_path: Path, bench_index: RuleIndex) -> None:
    good = orjson.dumps(_ev("4625", source={"ip": "203.0.113.9"}))
    lines = [good] * 2000 + [b"{oops"] + [good] * 2000
    path = write_lines(tmp_path / "mixed.jsonl", lines)
    scan = assert_same([path], bench_index, block_size=1 << 16)
    assert 0 < scan.stats.row_blocks < scan.stats.blocks


def test_type_change_between_blocks(tmp_path: Path, bench_index: RuleIndex) -> None:
    """A field whose JSON type changes (port as number, then as text) is re-learned."""
    a = _ev("5156", destination={"ip": "10.255.255.1", "port": 3389})
    b = _ev("5156", destination={"ip": "10.255.255.1", "port": "3389"})
    c = _ev("5156", destination={"ip": "10.255.255.1", "port": 3389.0})
    path = write_lines(tmp_path / "types.jsonl", [a] * 300 + [b] * 300 + [c] * 300 + [a, b])
    assert_same([path], bench_index, block_size=1 << 16)


def test_dotted_keys_and_crlf(tmp_path: Path, bench_index: RuleIndex) -> None:
    """{"event.code": ...} is the same field as {"event": {"code": ...}} for the parser."""
    flat = {"@timestamp": "2024-03-04T00:00:00Z", "event.code": "4625", "host": {"name": "X"},
            "source.ip": "198.51.100.7"}
    nested = _ev("4625", source={"ip": "198.51.100.7"})
    both = {**nested, "event.code": "4624"}
    records = [flat, nested, orjson.dumps(nested) + b"\r", flat]
    path = write_lines(tmp_path / "dotted.jsonl", records)
    assert_same([path], bench_index)
    path2 = write_lines(tmp_path / "both.jsonl", [nested, both, flat])
    assert_same([path2], bench_index)


def test_bom_and_no_final_newline(tmp_path: Path, bench_index: RuleIndex) -> None:
    rec = orjson.dumps(_ev("4625", source={"ip": "8.8.8.8"}))
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + rec + b"\n" + rec + b"\n" + rec)
    assert_same([path], bench_index)


def test_other_formats_are_read_row_by_row(bench_index: RuleIndex) -> None:
    """Files that are not ECS JSON lines go through their own parser."""
    data = ROOT / "tests" / "data"
    scan = assert_same([data / "windows-json", data / "zeek", data / "syslog"], bench_index)
    assert scan.stats.row_files >= 3


def test_opaque_rule_node() -> None:
    """A rule without a parsed Sigma tree is opaque: confirmed row by row."""
    rs = rules_from_yaml(RULES_YAML)
    rule = rs.rules[0]
    rule.sigma = None
    assert compile_rule_nodes(rule)[None] is OPAQUE


RULES_YAML = """
title: placeholder
logsource: {product: windows, service: security}
detection:
  sel: {event.code: '4625'}
  condition: sel
"""
