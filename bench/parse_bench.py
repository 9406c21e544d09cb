"""Parse throughput: Kizuki's normalized stream against the bare parsers, in one run.

- EVTX: every ``*.evtx`` under a folder (default ``../shared/data``), read by the ``evtx``
  library alone (``records_json`` + ``orjson.loads`` of each record, the least a Python
  consumer must do) and by Kizuki's Reader (the same, plus flattening and normalization).
- JSON lines: the shared workload (``../shared/bench/gen_events.py``), read line by line
  with bare ``orjson.loads`` and by Kizuki's Reader (ECS JSON parser).

Each measurement runs ``--runs`` times in this process; medians are reported with the
ratio Kizuki / bare (1.0 = as fast as the bare parse). Results are printed as a Markdown
table and, with ``--write``, replace the parse section of ``docs/performance.md``.

    python bench/parse_bench.py --events 1000000 --runs 5 --write
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import evtx
import orjson

from kizuki.sources import Reader

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORK = ROOT / "bench" / "work"
BEGIN, END = "<!-- parse-bench:begin -->", "<!-- parse-bench:end -->"


def bare_evtx(files: list[Path]) -> int:
    n = 0
    loads = orjson.loads
    for path in files:
        it = evtx.PyEvtxParser(str(path)).records_json()
        while True:
            try:
                record = next(it)
            except StopIteration:
                break
            except RuntimeError:
                continue
            loads(record["data"])
            n += 1
    return n


def bare_jsonl(path: Path) -> int:
    n = 0
    loads = orjson.loads
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)
            n += 1
    return n


def kizuki_read(paths: list[Path]) -> int:
    reader = Reader(sink=lambda w: None)
    return sum(1 for _ in reader.read(paths))


def measure(fn: Callable[[], int], runs: int) -> tuple[int, float]:
    times: list[float] = []
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
    return count, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--evtx-dir", type=Path, default=SHARED / "data")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = ap.parse_args()

    files = sorted(args.evtx_dir.rglob("*.evtx"))
    evtx_mb = sum(p.stat().st_size for p in files) / 1e6
    WORK.mkdir(parents=True, exist_ok=True)
    jsonl = WORK / f"ev{args.events}.jsonl"
    if not jsonl.exists():
        subprocess.run([sys.executable, str(SHARED / "bench" / "gen_events.py"), "-n",
                        str(args.events), "-k", "50", "--seed", "1", "-o", str(jsonl),
                        "--truth", str(jsonl.with_suffix(".truth.json"))], check=True)
    json_mb = jsonl.stat().st_size / 1e6

    rows = []
    for label, size, bare, ours in (
        (f"EVTX, {len(files)} files", evtx_mb, lambda: bare_evtx(files),
         lambda: kizuki_read(files)),
        (f"JSON lines (ECS), {args.events:,} events", json_mb, lambda: bare_jsonl(jsonl),
         lambda: kizuki_read([jsonl])),
    ):
        n_bare, t_bare = measure(bare, args.runs)
        n_ours, t_ours = measure(ours, args.runs)
        rows.append((label, size, n_bare, t_bare, n_ours, t_ours))

    lines = [
        BEGIN,
        f"Parse throughput, medians of {args.runs} runs in one process "
        f"(`python bench/parse_bench.py --events {args.events} --runs {args.runs}`).",
        "",
        "| input | MB | bare parse: records/s (MB/s) | Kizuki normalized: records/s (MB/s) "
        "| time ratio Kizuki / bare |",
        "|---|---|---|---|---|",
    ]
    for label, size, n_bare, t_bare, n_ours, t_ours in rows:
        lines.append(
            f"| {label} | {size:.0f} | {n_bare / t_bare:,.0f} ({size / t_bare:,.0f}) | "
            f"{n_ours / t_ours:,.0f} ({size / t_ours:,.0f}) | {t_ours / t_bare:.2f}× |"
        )
        if n_bare != n_ours:
            lines.append(f"|  ⚠ record counts differ: bare {n_bare}, Kizuki {n_ours} | | | | |")
    lines.append(END)
    table = "\n".join(lines)
    print(table)
    if args.write:
        doc = ROOT / "docs" / "performance.md"
        text = doc.read_text("utf-8") if doc.exists() else "# Performance\n\n"
        if BEGIN in text:
            head, rest = text.split(BEGIN, 1)
            text = head + table + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## Parsing\n\n" + table + "\n"
        doc.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
