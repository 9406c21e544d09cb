"""All SigmaHQ Windows rules over the shared EVTX files, against the bare `evtx` parse.

Issue 3's EVTX target: Kizuki (parse + normalize + every SigmaHQ Windows rule) at
≥ 12% of the records/s of the bare ``evtx`` parse of the same files, in the same run.
The bare parse is the strictest floor: iterating ``records_json()`` of every file (the
library's Rust decoding and JSON rendering, nothing else). Kizuki's figure is timed
three ways: the steady-state scan in one process (rules already compiled, as in the
live service), the same on ``--jobs`` worker processes (the bare parse also uses every
core: the ``evtx`` library decodes chunks on a thread pool), and the whole one-process
job including loading and compiling the 2,000+ rules (as one `kizuki hunt`).

    python bench/evtx_rules_bench.py --runs 5 --write
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

import evtx

from kizuki.detect import Engine
from kizuki.detect.parallel import ParallelScan
from kizuki.rules import RuleIndex, load_ruleset
from kizuki.sources import Reader

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BEGIN, END = "<!-- evtx-rules-bench:begin -->", "<!-- evtx-rules-bench:end -->"


def bare(files: list[Path]) -> int:
    n = 0
    for path in files:
        it = evtx.PyEvtxParser(str(path)).records_json()
        while True:
            try:
                next(it)
            except StopIteration:
                break
            except RuntimeError:
                continue
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--evtx-dir", type=Path, default=SHARED)
    ap.add_argument("--rules", type=Path, default=SHARED / "sigma" / "rules" / "windows")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    files = sorted(args.evtx_dir.rglob("*.evtx"))

    t_load: list[float] = []
    t_bare: list[float] = []
    t_scan: list[float] = []
    t_par: list[float] = []
    records = alerts = rules = 0
    for _ in range(args.runs):
        start = time.perf_counter()
        records = bare(files)
        t_bare.append(time.perf_counter() - start)

        start = time.perf_counter()
        ruleset = load_ruleset([args.rules])
        index = RuleIndex(ruleset.rules)
        # As `kizuki hunt` does (kizuki.detect.hunt.load_detection): the compiled rules
        # leave the cyclic GC's reach for the scan.
        gc.collect()
        gc.freeze()
        t_load.append(time.perf_counter() - start)
        rules = len(ruleset.rules)

        start = time.perf_counter()
        engine = Engine(index)
        found = engine.run(Reader(sink=lambda w: None).read(files))
        t_scan.append(time.perf_counter() - start)
        alerts = len(found)
        assert engine.events_seen == records, (engine.events_seen, records)
        # Each measurement starts clean: the previous one's alerts and events are freed.
        del found, engine
        gc.collect()

        start = time.perf_counter()
        scan = ParallelScan(index, jobs=args.jobs)
        engine = Engine(index)
        engine.feed_matched(scan.matches(files))
        parallel = engine.close()
        t_par.append(time.perf_counter() - start)
        assert scan.seen == records and len(parallel) == alerts
        # The next run loads the rules afresh: let this run's library be collected.
        del parallel, engine, scan, index, ruleset
        gc.unfreeze()
        gc.collect()

    b, s, ld, par = (statistics.median(x) for x in (t_bare, t_scan, t_load, t_par))
    lines = [
        BEGIN,
        f"All {rules:,} compiled SigmaHQ Windows rules over {len(files)} EVTX files "
        f"({records:,} records), medians of {args.runs} runs in one process "
        "(`python bench/evtx_rules_bench.py --runs "
        f"{args.runs}`); {alerts:,} rule alerts.",
        "",
        "| what | seconds | records/s | share of the bare parse |",
        "|---|---|---|---|",
        f"| bare `evtx` parse (`records_json`) | {b:.2f} | {records / b:,.0f} | 100% |",
        f"| Kizuki: parse + normalize + all rules (compiled) | {s:.2f} | "
        f"{records / s:,.0f} | {b / s:.1%} |",
        f"| Kizuki: the same on {args.jobs} worker processes (`kizuki hunt --jobs "
        f"{args.jobs}`) | {par:.2f} | {records / par:,.0f} | {b / par:.1%} |",
        f"| Kizuki: one process, including loading the rules ({ld:.1f} s) | {s + ld:.2f} | "
        f"{records / (s + ld):,.0f} | {b / (s + ld):.1%} |",
        END,
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        doc = ROOT / "docs" / "performance.md"
        text = doc.read_text("utf-8")
        if BEGIN in text:
            head, rest = text.split(BEGIN, 1)
            text = head + table + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## Sigma rules over EVTX\n\n" + table + "\n"
        doc.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
