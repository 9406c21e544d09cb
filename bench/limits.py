"""What issue 3's 20-rule target would take, measured: floors of time and memory.

The target: 20 single-event Sigma rules over the 1M-event workload at ≥ 10× the events/s
of pySigma's SQLite backend (Zircolite's approach) with ≤ ¼ of its peak memory. This
script measures, each in a fresh interpreter under GNU ``time``, the floors any engine
on this machine starts from:

- ``floor``: read the file and ``orjson.loads`` every line, nothing else (the least a
  Python engine that decodes each line pays);
- ``import:<module>``: the peak RSS of an interpreter that only imports a C engine able to
  decode JSON faster than that (DuckDB, pyarrow) or pySigma (which loads the rules);
- ``duckdb-scan``: DuckDB reading the file's columns and counting five of the rules'
  conditions, one thread, with and without a memory limit;
- ``find``: one ``bytes.find`` pass over the whole file (what each literal of a raw-byte
  prefilter costs).

    python bench/limits.py [--events PATH] [--sqlite-seconds S] [--sqlite-mib M]

Pass the SQLite approach's wall time and peak RSS from the same session's
``detect_bench.py`` run (``results.json`` is read when present) to get the budgets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "detect"

_FLOOR = """
import orjson, sys
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        orjson.loads(line); n += 1
print(n)
"""

_FIND = """
import sys, time
data = open(sys.argv[1], "rb").read()
t = time.perf_counter()
data.find(b"\\\\no-such-literal\\\\")
print(time.perf_counter() - t)
"""

_DUCKDB = """
import sys, duckdb
con = duckdb.connect(config={"threads": 1, "preserve_insertion_order": "false",
                             **({"memory_limit": sys.argv[2]} if sys.argv[2] else {})})
cols = ("{'@timestamp':'VARCHAR','event':'STRUCT(code VARCHAR)','host':'STRUCT(name VARCHAR)',"
        "'source':'STRUCT(ip VARCHAR)','destination':'STRUCT(ip VARCHAR, port BIGINT)',"
        "'file':'STRUCT(path VARCHAR)','process':'STRUCT(executable VARCHAR)'}")
src = f"read_json('{sys.argv[1]}', format='newline_delimited', columns={cols})"
print(con.execute(f'''SELECT
  count(*) FILTER (WHERE event.code = '4625'),
  count(*) FILTER (WHERE event.code = '4663' AND ends_with(lower(file.path), '\\\\config\\\\sam')),
  count(*) FILTER (WHERE event.code = '5156' AND destination.port = 3389),
  count(*) FILTER (WHERE event.code = '4688'
                   AND ends_with(lower(process.executable), '\\\\net.exe')),
  count(*) FILTER (WHERE event.code = '4624' AND starts_with(source.ip, '203.0.113.'))
FROM {src}''').fetchall())
"""


def timed(code: str, *args: str) -> tuple[float, float, bool]:
    """(wall seconds, peak RSS MiB, succeeded) of ``python -c code args`` under GNU time;
    the child's standard output goes to ``timed.last_output``."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", out.name, sys.executable, "-c", code,
             *args], capture_output=True, text=True,
        )
        wall, kib = out.read().split()[-2:]
    timed.last_output = proc.stdout  # type: ignore[attr-defined]
    return float(wall), int(kib) / 1024, proc.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--events", type=Path, default=WORK / "ev1000000.jsonl")
    ap.add_argument("--sqlite-seconds", type=float)
    ap.add_argument("--sqlite-mib", type=float)
    args = ap.parse_args()
    if not args.events.is_file():
        raise SystemExit(f"{args.events}: run bench/detect_bench.py first (it writes it)")
    sq_s, sq_mib = args.sqlite_seconds, args.sqlite_mib
    results = WORK / "results.json"
    if (sq_s is None or sq_mib is None) and results.is_file():
        sqlite = json.loads(results.read_text())["sqlite"]
        sq_s = sq_s or statistics.median(sqlite["walls"])
        sq_mib = sq_mib or statistics.median(sqlite["rss_mib"])
    path = str(args.events)
    rows: list[tuple[str, float, float, bool]] = []
    rows.append(("floor: read + orjson.loads each line", *timed(_FLOOR, path)))
    for module in ("sys", "duckdb", "pyarrow, pyarrow.json, pyarrow.compute", "polars",
                   "sigma.collection, sigma.pipelines.common"):
        wall, mib, ok = timed(f"import {module}")
        rows.append((f"import {module}" + ("" if ok else " (not installed)"), wall, mib, ok))
    rows.append(("DuckDB scan, 5 of the rules, 1 thread", *timed(_DUCKDB, path, "")))
    rows.append(("DuckDB scan, same, memory_limit 50MB", *timed(_DUCKDB, path, "50MB")))
    timed(_FIND, path)
    find_s = float(timed.last_output.split()[-1])  # type: ignore[attr-defined]
    print("| what | wall s | peak MiB | ran |")
    print("|---|---|---|---|")
    for name, w, m, good in rows:
        print(f"| {name} | {w:.2f} | {m:.0f} | {'yes' if good else 'no'} |")
    print(f"| one `bytes.find` pass over the file in memory (the search alone) | {find_s:.2f} "
          "| – | yes |")
    if sq_s and sq_mib:
        print(f"\nBudgets from the SQLite approach ({sq_s:.2f} s, {sq_mib:.0f} MiB): "
              f"≤ {sq_s / 10:.2f} s and ≤ {sq_mib / 4:.0f} MiB.")


if __name__ == "__main__":
    main()
