"""Detection throughput: Kizuki against EQL, SEC and pySigma → SQLite, in one run (issue 3).

The shared workload (``../shared/bench/gen_events.py -n N -k 50 --seed 1``, ECS JSON lines
with K injected S7-like instances and six kinds of decoys) is generated once into
``bench/work/detect/``. Then every measurement is a whole process, timed by GNU
``/usr/bin/time -v`` (wall time, peak RSS), run ``--runs`` times round-robin (so load drift
hits every row alike); medians are reported.

Two-stage scenario (night access under ``\\\\fs01\\secret\\`` → sinkhole within 30 min):
- ``floor``: read the file and ``orjson.loads`` each line, nothing else.
- ``naive``: ``peers/naive_stream.py --parser orjson`` (single-purpose Python).
- ``eql``: ``peers/run_eql.py`` with ``peers/query_seq.eql`` (EQL Python engine).
- ``sec``: SEC over ``peers/to_kv.py`` output. Rendering the JSON as key=value text is a
  preparation step (SEC reads text logs; the rendering is an artefact of the JSON
  workload): the SEC row times SEC alone over the rendered file, and ``to_kv`` is timed
  as a row of its own, so SEC's whole pipeline is the sum of the two (reported too).
- ``kizuki-scenario``: ``bench/kizuki_detect.py scenario`` with ``bench/scenario_s7.yml``.
Each writes ``host<TAB>first_event_time`` lines, scored by ``peers/check.py`` against the
ground truth on every run.

20 single-event Sigma rules (``peers/sigma_rules``):
- ``sqlite``: ``peers/sigma_sqlite_run.py`` (load into in-memory SQLite + every query)
  over the queries ``peers/sigma_convert.py`` made once (conversion is preparation).
- ``kizuki-rules``: ``bench/kizuki_detect.py rules`` (loading and compiling the rules is
  inside the timed process).
Hits per rule must be equal between the two, on every run.

    python bench/detect_bench.py --events 1000000 --runs 5 --path all --write

``--path`` picks Kizuki's reading path (``auto``: columnar when the tree has it; ``all``:
that plus the row-wise path as extra rows). ``--write`` replaces the detect-bench section
of ``docs/performance.md``. Peers' installs: ``bench/setup-peers.sh``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SHARED = ROOT.parent / "shared" / "bench"
PEERS = SHARED / "peers"
WORK = BENCH / "work" / "detect"
PERF = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- detect-bench:begin -->", "<!-- detect-bench:end -->"
#: This run's outputs (a folder of its own, so that two runs never share a file).
RUN = WORK / f"run-{os.getpid()}"
PY = sys.executable
TIME = "/usr/bin/time"
NOTES = """How it is measured (details: `bench/README.md`):

- Each row is a whole process, start-up, imports and rule compiling included. Kizuki's
  entry point is `bench/kizuki_detect.py` (the project's API); its scenario is
  `bench/scenario_s7.yml` (the workload's S7-like definition in Kizuki's scenario
  format, night from the context calendar's default: Asia/Tokyo 22:00–05:00).
- The headline Kizuki rows use the columnar scan when the tree has it
  (`kizuki.detect.columnar`: `pyarrow.json` blocks, rules as Arrow kernels; Arrow's
  threads count in CPU s); the row-wise rows (`Reader` → `Engine.feed`) are there for
  comparison.
- SEC reads text: the JSON is rendered as key=value lines by `to_kv.py` first, a
  preparation step timed as its own row; the SEC row is SEC alone over that file.
- pySigma → SQLite: the queries are converted once beforehand (`sigma_convert.py`);
  the row is the load into in-memory SQLite plus the 20 queries (Zircolite's approach).
"""

FLOOR = (
    "import sys, orjson\n"
    "loads = orjson.loads\n"
    "n = 0\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    for line in f:\n"
    "        loads(line); n += 1\n"
    "print(n)\n"
)


@dataclass
class Job:
    """One measured command and how to check what it wrote."""

    name: str
    label: str
    group: str  # "scenario" or "rules"
    argv: list[str]
    out: Path
    stdout_to_out: bool = False
    check: str = "none"  # "truth", "counts-kizuki", "counts-sqlite", "none"
    walls: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    error: str | None = None


def workload(n: int) -> tuple[Path, Path]:
    """Generate the shared workload once (deterministic: same n, K and seed ⇒ same file)."""
    WORK.mkdir(parents=True, exist_ok=True)
    events, truth = WORK / f"ev{n}.jsonl", WORK / f"ev{n}.truth.json"
    if not (events.exists() and truth.exists()):
        print(f"generating {events} ...", file=sys.stderr)
        subprocess.run([PY, str(SHARED / "gen_events.py"), "-n", str(n), "-k", "50",
                        "--seed", "1", "-o", str(events), "--truth", str(truth)], check=True)
    return events, truth


def prepare(events: Path) -> dict[str, Any]:
    """One-off preparation: SEC's key=value input, and the SQLite queries (timed once)."""
    prep: dict[str, Any] = {}
    kv = events.with_suffix(".kv.log")
    if not kv.exists() or kv.stat().st_mtime < events.stat().st_mtime:
        subprocess.run([PY, str(PEERS / "to_kv.py"), str(events), str(kv)], check=True)
    queries = RUN / "sigma_queries.json"
    t0 = time.perf_counter()
    subprocess.run([PY, str(PEERS / "sigma_convert.py"), str(PEERS / "sigma_rules"),
                    str(queries)], check=True)
    prep["sigma_convert_s"] = round(time.perf_counter() - t0, 2)
    prep["kv"], prep["queries"] = kv, queries
    return prep


def jobs(events: Path, prep: dict[str, Any], only: set[str] | None, path: str) -> list[Job]:
    """Every measurement, in the order one round runs them."""
    kd = [PY, str(BENCH / "kizuki_detect.py")]
    out = RUN
    all_jobs = [
        Job("floor", "read + `orjson.loads` each line (floor)", "scenario",
            [PY, "-c", FLOOR, str(events)], out / "floor.txt", stdout_to_out=True),
        Job("naive", "naive_stream.py (orjson)", "scenario",
            [PY, str(PEERS / "naive_stream.py"), str(events), str(out / "naive.tsv"),
             "--parser", "orjson"], out / "naive.tsv", check="truth"),
        Job("eql", "EQL Python engine, `sequence by host.name with maxspan=30m`", "scenario",
            [PY, str(PEERS / "run_eql.py"), str(events), str(out / "eql.tsv"),
             str(PEERS / "query_seq.eql")], out / "eql.tsv", check="truth"),
        Job("to_kv", "to_kv.py: JSON → key=value text (SEC's input, preparation)",
            "scenario", [PY, str(PEERS / "to_kv.py"), str(events), str(RUN / "kv.tmp")],
            RUN / "kv.tmp"),
        Job("sec", "SEC, PairWithWindow + event-time check (over to_kv output)", "scenario",
            ["sec", f"--conf={PEERS / 'sec_eventtime.rules'}", f"--input={prep['kv']}",
             "--notail"], out / "sec.txt", stdout_to_out=True, check="truth"),
        Job("sqlite", "pySigma → SQLite (in memory), load + 20 queries", "rules",
            [PY, str(PEERS / "sigma_sqlite_run.py"), str(events), str(prep["queries"]),
             str(out / "sqlite_timings.jsonl")], out / "sqlite_timings.jsonl",
            check="counts-sqlite"),
    ]
    # Kizuki: the headline path first (``auto``: columnar when the tree has it), then,
    # with ``--path all``, the row-wise path as a row of its own for comparison.
    paths = (["auto", "grep", "columnar", "rows"] if path == "all" else [path])
    for i, p in enumerate(dict.fromkeys(paths)):
        suffix = "" if i == 0 else f"-{p}"
        how = _path_label(p)
        all_jobs.insert(
            next(k for k, j in enumerate(all_jobs) if j.name == "sqlite"),
            Job(f"kizuki-scenario{suffix}", f"**Kizuki** scenario engine, {how}", "scenario",
                [*kd, "scenario", str(events), str(out / f"kizuki_scenario{suffix}.tsv"),
                 "--scenario", str(BENCH / "scenario_s7.yml"), "--path", p],
                out / f"kizuki_scenario{suffix}.tsv", check="truth"))
        all_jobs.append(
            Job(f"kizuki-rules{suffix}", f"**Kizuki**, 20 Sigma rules, {how}", "rules",
                [*kd, "rules", str(events), str(out / f"kizuki_rules{suffix}.json"),
                 "--rules", str(PEERS / "sigma_rules"), "--path", p],
                out / f"kizuki_rules{suffix}.json", check="counts-kizuki"))
    return [j for j in all_jobs if only is None or j.name in only]


def _path_label(path: str) -> str:
    return {"auto": "as `kizuki hunt` chooses (grep-first when a sample says it pays, "
                    "else columnar)",
            "grep": "grep-first scan (raw-byte literals → parse those lines → Engine)",
            "rows": "row-wise (Reader → Engine.feed)",
            "columnar": "columnar scan (scan_jsonl → Engine.feed_matched)"}[path]


def _parse_time_v(text: str) -> tuple[float, float, float]:
    """Wall seconds, peak RSS MiB and CPU seconds from ``/usr/bin/time -v`` output."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    sys_ = re.search(r"System time \(seconds\): ([\d.]+)", text)
    if not (wall and rss and user and sys_):
        raise ValueError(f"unexpected /usr/bin/time output:\n{text}")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return seconds, int(rss.group(1)) / 1024, float(user.group(1)) + float(sys_.group(1))


def measure(job: Job) -> None:
    """Run ``job`` once under ``/usr/bin/time -v``; record wall, peak RSS and CPU."""
    job.out.unlink(missing_ok=True)
    tv = RUN / "time.txt"
    stdout = open(job.out, "w") if job.stdout_to_out else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.run([TIME, "-v", "-o", str(tv), *job.argv], stdout=stdout,
                              stderr=subprocess.PIPE, text=True, cwd=RUN)
    finally:
        if job.stdout_to_out:
            stdout.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        job.error = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return
    wall, rss, cpu = _parse_time_v(tv.read_text())
    job.walls.append(wall)
    job.rss.append(rss)
    job.cpu.append(cpu)


def _to_tsv(src: Path) -> Path:
    """SEC writes ``host time``; the common format is ``host<TAB>time``."""
    dst = src.with_suffix(".tsv")
    dst.write_text("".join(line.replace(" ", "\t", 1) for line in src.open() if line.strip()))
    return dst


def verify(job: Job, truth: Path, counts: dict[str, dict[str, int]]) -> None:
    """Score what ``job`` wrote: check.py for detections, hits per rule for the rules."""
    if job.error or job.check == "none":
        return
    if job.check == "truth":
        tsv = _to_tsv(job.out) if job.stdout_to_out else job.out
        res = subprocess.run([PY, str(PEERS / "check.py"), str(truth), str(tsv), job.name],
                             capture_output=True, text=True)
        job.verdicts.append(res.stdout.strip())
    elif job.check == "counts-sqlite":
        last = job.out.read_text().strip().splitlines()[-1]
        per_rule = json.loads(last)["per_rule"]
        titles = {q["rule"]: q["title"] for q in json.loads(
            (RUN / "sigma_queries.json").read_text())}
        got: dict[str, int] = {}
        for rule, (hits, _secs) in per_rule.items():
            got[titles[rule]] = got.get(titles[rule], 0) + hits
        counts[job.name] = got
        job.verdicts.append(f"{job.name}: {sum(got.values())} hits")
    elif job.check == "counts-kizuki":
        got = json.loads(job.out.read_text())["per_rule"]
        counts[job.name] = got
        job.verdicts.append(f"{job.name}: {sum(got.values())} hits")


def compare_counts(counts: dict[str, dict[str, int]]) -> list[str]:
    """Rules whose hit counts differ between SQLite and Kizuki (empty when all agree)."""
    a = counts.get("sqlite")
    if a is None:
        return []
    out: list[str] = []
    for name, b in sorted(counts.items()):
        if name.startswith("kizuki-rules"):
            out += [f"{title}: SQLite {a.get(title, 0)}, {name} {b.get(title, 0)}"
                    for title in sorted(set(a) | set(b)) if a.get(title, 0) != b.get(title, 0)]
    return out


def _med(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(jobs_: list[Job], n: int, events: Path, runs: int, prep: dict[str, Any],
           mismatches: list[str], per_rule: dict[str, int], command: str,
           load: list[str]) -> str:
    """The Markdown section: tables, ratios against the targets, correctness."""
    by = {j.name: j for j in jobs_}

    def eps(name: str) -> float:
        j = by.get(name)
        return n / _med(j.walls) if j and j.walls else float("nan")

    def cps(name: str) -> float:
        j = by.get(name)
        return n / _med(j.cpu) if j and j.cpu else float("nan")

    def peak(name: str) -> float:
        j = by.get(name)
        return _med(j.rss) if j and j.rss else float("nan")

    mb = events.stat().st_size / 1e6
    lines = [
        BEGIN,
        "## Detection",
        "",
        f"Whole processes timed by GNU `time -v`, medians of {runs} runs round-robin in one "
        f"session, {n:,} events ({mb:.0f} MB of ECS JSON lines, K=50, seed 1). "
        f"Reproduce: `{command}` (peers' installs: `bench/setup-peers.sh`).",
        "",
    ]
    groups = {j.group for j in jobs_}
    for group, title in (("scenario", "Two-stage scenario (night access under "
                          "`\\\\fs01\\secret\\` → sinkhole within 30 min, same host)"),
                         ("rules", "20 single-event Sigma rules (`peers/sigma_rules`)")):
        if group not in groups:
            continue
        lines += [f"**{title}**", "",
                  "| what | events/s | wall s | CPU s | events/CPU-s | peak MiB | correct |",
                  "|---|---|---|---|---|---|---|"]
        for j in jobs_:
            if j.group != group:
                continue
            if j.error or not j.walls:
                lines.append(f"| {j.label} | pending | | | | | {j.error or 'not run'} |")
                continue
            ok = _verdict(j, mismatches, bool(per_rule))
            lines.append(f"| {j.label} | {n / _med(j.walls):,.0f} | {_med(j.walls):.2f} | "
                         f"{_med(j.cpu):.2f} | {n / _med(j.cpu):,.0f} | {_med(j.rss):,.0f} | "
                         f"{ok} |")
        lines.append("")
    lines += ["**Targets (issue 3), as ratios in this run**", "",
              "| ratio | value | target | met |", "|---|---|---|---|"]

    def row(name: str, value: float, target: str, met: bool) -> None:
        shown = "pending" if value != value else f"{value:.2f}"  # NaN: not measured
        verdict = "pending" if value != value else ("yes" if met else "**no**")
        lines.append(f"| {name} | {shown} | {target} | {verdict} |")

    r1 = eps("kizuki-scenario") / eps("eql")
    r1f = eps("kizuki-scenario") / eps("floor")
    r2 = eps("kizuki-rules") / eps("sqlite")
    r3 = peak("kizuki-rules") / peak("sqlite")
    row("Kizuki scenario / EQL, events/s", r1, "≥ 4", r1 >= 4)
    row("Kizuki scenario / bare orjson floor, events/s", r1f, "≈ 0.75 (for scale)", r1f >= 0.75)
    row("Kizuki 20 rules / SQLite, events/s", r2, "≥ 10", r2 >= 10)
    row("Kizuki 20 rules / SQLite, peak memory", r3, "≤ 0.25", r3 <= 0.25)
    lines.append("")
    cpu_ratios = [f"{what} {value:.2f}" for what, value in (
        ("scenario / EQL", cps("kizuki-scenario") / cps("eql")),
        ("20 rules / SQLite", cps("kizuki-rules") / cps("sqlite"))) if value == value]
    if cpu_ratios:
        lines.append("On CPU time instead of wall time (less sensitive to the other jobs on "
                     "the machine; Arrow's threads count in full): " + ", ".join(cpu_ratios)
                     + ".")
        lines.append("")
    lines.append("Correctness: " + _correct_summary(jobs_, mismatches, per_rule))
    lines.append("")
    if by.get("sec") and by["sec"].walls and by.get("to_kv") and by["to_kv"].walls:
        total = _med(by["sec"].walls) + _med(by["to_kv"].walls)
        lines.append(f"SEC's whole pipeline (to_kv.py then SEC): {n / total:,.0f} events/s.")
        lines.append("")
    lines.append(NOTES)
    lines.append(f"Not in the rows: sigma_convert.py (preparation, once) "
                 f"{prep['sigma_convert_s']} s. Load average (1 min) during the run: "
                 f"{' to '.join(load)}.")
    lines.append(END)
    return "\n".join(lines)


def _verdict(j: Job, mismatches: list[str], compared: bool) -> str:
    if j.check == "truth":
        ok = all("correct=yes" in v for v in j.verdicts)
        return f"yes ({len(j.verdicts)}/{len(j.verdicts)} runs)" if ok else "**no**"
    if j.check.startswith("counts"):
        if not compared:
            return "not compared"
        return "hits equal per rule" if not mismatches else "**differs**"
    return "–"


def _correct_summary(jobs_: list[Job], mismatches: list[str], per_rule: dict[str, int]) -> str:
    bad = [v for j in jobs_ for v in j.verdicts if j.check == "truth" and "correct=yes" not in v]
    parts = ["every scenario detector scored by `peers/check.py` on every run "
             + ("(all exactly the 50 true instances)." if not bad else
                f"— failures: {'; '.join(sorted(set(bad)))}.")]
    if mismatches:
        parts.append("20 rules: hit counts differ — " + "; ".join(mismatches) + ".")
    elif per_rule:
        parts.append(f"20 rules: SQLite and Kizuki agree on every rule's hits "
                     f"({sum(per_rule.values()):,} in all, on every run).")
    return " ".join(parts)


def write_section(section: str) -> None:
    """Replace (or append) the detect-bench section of docs/performance.md."""
    text = PERF.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    PERF.write_text(text)


def main() -> None:
    """Parse the command line, run every measurement ``--runs`` times, report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated job names (floor,naive,eql,to_kv,sec,"
                    "kizuki-scenario,sqlite,kizuki-rules; with --path all also "
                    "kizuki-scenario-rows,kizuki-rules-rows)")
    ap.add_argument("--path", choices=("auto", "grep", "rows", "columnar", "all"),
                    default="auto",
                    help="how Kizuki reads events (see bench/kizuki_detect.py); all = the "
                    "headline path (auto) plus the row-wise path")
    ap.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = ap.parse_args()
    if not Path(TIME).exists() or shutil.which("sec") is None:
        raise SystemExit("GNU time or SEC missing: run bench/setup-peers.sh")
    events, truth = workload(args.events)
    RUN.mkdir()
    try:
        run(args, events, truth)
    finally:
        shutil.rmtree(RUN, ignore_errors=True)


def run(args: argparse.Namespace, events: Path, truth: Path) -> None:
    """Prepare, measure every job ``args.runs`` times round-robin, report."""
    prep = prepare(events)
    only = set(args.only.split(",")) if args.only else None
    todo = jobs(events, prep, only, args.path)
    counts: dict[str, dict[str, int]] = {}
    mismatches: list[str] = []
    load = [os.getloadavg()[0]]
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    for r in range(args.runs):
        for job in todo:
            if job.error:
                continue
            measure(job)
            verify(job, truth, counts)
            if job.error:
                log(f"run {r + 1} {job.name}: FAILED {job.error}")
            else:
                log(f"run {r + 1} {job.name}: {job.walls[-1]:.2f} s {job.rss[-1]:.0f} MiB "
                    f"{job.verdicts[-1] if job.verdicts else ''}")
        for m in compare_counts(counts):
            if m not in mismatches:
                mismatches.append(m)
        load.append(os.getloadavg()[0])
    per_rule = counts.get("sqlite", {})
    path_opt = "" if args.path == "auto" else f" --path {args.path}"
    command = f"python bench/detect_bench.py --events {args.events} --runs {args.runs}" \
        f"{path_opt} --write"
    section = report(todo, args.events, events, args.runs, prep, mismatches, per_rule,
                     command, [f"{x:.1f}" for x in (min(load), max(load))])
    # Raw figures; a partial or unwritten run does not overwrite those behind the docs.
    raw = WORK / ("results.json" if args.write else "results-last.json")
    raw.write_text(json.dumps({
        j.name: {"walls": j.walls, "rss_mib": j.rss, "cpu": j.cpu, "verdicts": j.verdicts,
                 "error": j.error} for j in todo} | {"per_rule": counts,
                                                     "mismatches": mismatches}, indent=1))
    print(section)
    if mismatches:
        print("\n".join(["hit counts differ:", *mismatches]), file=sys.stderr)
    if args.write:
        write_section(section)


if __name__ == "__main__":
    main()
