"""All SigmaHQ Windows rules over the shared EVTX files, against the bare `evtx` parse.

Issue 3's EVTX target: Kizuki (parse + normalize + every SigmaHQ Windows rule) at
≥ 12% of the records/s of the bare ``evtx`` parse of the same files, in the same run.
The bare parse is the strictest floor: iterating ``records_json()`` of every file (the
library's Rust decoding and JSON rendering, nothing else). Kizuki's figure is timed
three ways, each in a fresh interpreter per run (as one `kizuki hunt`: rules loaded,
then a cold index meets the files): the scan in one process (rules already compiled,
as in the live service), the same on ``--jobs`` worker processes (what `kizuki hunt`
does by default, one per core; the bare parse also uses every core: the ``evtx``
library decodes chunks on a thread pool), and the whole one-process job including
loading and compiling the 2,000+ rules.

    python bench/evtx_rules_bench.py --runs 5 --write
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import evtx

from kizuki.detect import Engine
from kizuki.detect.parallel import ParallelScan
from kizuki.rules import RuleIndex, load_ruleset
from kizuki.sources import Reader, prepare

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


def child(mode: str, files: list[Path], rules_dir: Path, jobs: int) -> None:
    """One measurement in a fresh interpreter, as one `kizuki hunt` would run it: load
    and compile the rules (timed apart), then scan every file with a cold index."""
    start = time.perf_counter()
    ruleset = load_ruleset([rules_dir])
    index = RuleIndex(ruleset.rules)
    # As `kizuki hunt` does (kizuki.detect.hunt.load_detection): parsers imported and
    # mappings compiled with the library, and the compiled rules out of the cyclic GC's
    # reach for the scan.
    prepare()
    gc.collect()
    gc.freeze()
    load = time.perf_counter() - start
    start = time.perf_counter()
    if mode == "scan":
        engine = Engine(index)
        found = engine.run(Reader(sink=lambda w: None).read(files))
        seen = engine.events_seen
    else:
        scan = ParallelScan(index, jobs=jobs)
        engine = Engine(index)
        engine.feed_matched(scan.matches(files))
        found = engine.close()
        seen = scan.seen
    took = time.perf_counter() - start
    print(json.dumps({"load": load, "scan": took, "records": seen, "alerts": len(found),
                      "rules": len(ruleset.rules)}))


def measure(mode: str, args: argparse.Namespace) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--evtx-dir", str(args.evtx_dir),
         "--rules", str(args.rules), "--jobs", str(args.jobs)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--evtx-dir", type=Path, default=SHARED)
    ap.add_argument("--rules", type=Path, default=SHARED / "sigma" / "rules" / "windows")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--child", choices=("scan", "parallel"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    files = sorted(args.evtx_dir.rglob("*.evtx"))
    if args.child:
        child(args.child, files, args.rules, args.jobs)
        return

    t_load: list[float] = []
    t_bare: list[float] = []
    t_scan: list[float] = []
    t_par: list[float] = []
    records = alerts = rules = 0
    for _ in range(args.runs):
        start = time.perf_counter()
        records = bare(files)
        t_bare.append(time.perf_counter() - start)
        one = measure("scan", args)
        par = measure("parallel", args)
        assert one["records"] == par["records"] == records, (one, par, records)
        assert one["alerts"] == par["alerts"], (one, par)
        t_load.append(one["load"])
        t_scan.append(one["scan"])
        t_par.append(par["scan"])
        alerts, rules = int(one["alerts"]), int(one["rules"])
    print("runs: bare", [round(x, 3) for x in t_bare], "scan", [round(x, 3) for x in t_scan],
          "parallel", [round(x, 3) for x in t_par])
    b, s, ld, par = (statistics.median(x) for x in (t_bare, t_scan, t_load, t_par))
    lines = [
        BEGIN,
        f"All {rules:,} compiled SigmaHQ Windows rules over {len(files)} EVTX files "
        f"({records:,} records), medians of {args.runs} runs "
        "(`python bench/evtx_rules_bench.py --runs "
        f"{args.runs}`); {alerts:,} rule alerts. Each Kizuki figure comes from a fresh "
        "interpreter per run (rules loaded, then a cold index meets the files).",
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
        "",
        "Per run (seconds): bare " + ", ".join(f"{x:.3f}" for x in t_bare)
        + "; one process " + ", ".join(f"{x:.3f}" for x in t_scan)
        + f"; {args.jobs} workers " + ", ".join(f"{x:.3f}" for x in t_par) + ".",
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
