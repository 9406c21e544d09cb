"""Vault benchmark: durable append rate, seal cost, search latency, against naive SQLite.

The workload has the shared generator's shape and mix (``../shared/bench/gen_events.py``:
ECS nested Windows-Security-like events, 500 hosts, 2,000 users, codes 4624/4625/4663/
5156/4688) but spans ``--days`` days (default 60) instead of 7, so that one-day and
thirty-day windows mean something; it is generated in time order, in-process and
seeded, so no multi-GB file is needed.

Measured, each the median of ``--runs`` runs where repeated:

- **append**: events/s into the vault with a durable acknowledgement per batch of
  ``--batch`` events (``fsync=batch``; ``append_many`` returns after the fsync), and
  events/s with ``fsync=always`` (one fsync per event) on a small sample;
- **seal**: events/s turned into zstd Parquet segments + Merkle leaves + a signed
  checkpoint (seals run every ``--seal-every`` events, so memory stays bounded);
- **search**: latency of ``host.name=WS-0042`` over a 1-day and a 30-day window, and of
  a count over the 30-day window, via ``kizuki.vault.search``;
- the same data in SQLite (the naive peer: one table, an index on time,
  ``synchronous=FULL`` and one transaction per batch for the same durable ack),
  queried with the same predicates;
- peak RSS of each side while loading and while searching (each phase runs in its
  own fresh interpreter, sampled every 20 ms) and the vault's RSS after every seal (memory must
  stay bounded while appending 10M events).

Searches are timed after one warm-up call, as the median of ``--runs`` calls.

    python bench/vault_bench.py                     # 10M events (long; not run in tests)
    python bench/vault_bench.py --events 200000     # a quick run
    python bench/vault_bench.py --keep ...          # keep the data, then:
    python bench/vault_bench.py --search-only ...   # re-time the searches on kept data
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from kizuki.vault import Signer, Vault, search, verify

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "vault"
START = datetime(2024, 3, 4, tzinfo=UTC)
MIX = [("4624", 35), ("4625", 5), ("4663", 25), ("5156", 25), ("4688", 10)]
ACTION = {"4624": "logged-in", "4625": "logon-failed", "4663": "object-access",
          "5156": "network-connection-allowed", "4688": "created-process"}
CODES = [code for code, weight in MIX for _ in range(weight)]


def events(n: int, days: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``n`` events spread evenly over ``days`` days, in time order."""
    rng = random.Random(seed)
    step_us = days * 86_400_000_000 // max(n, 1)
    for i in range(n):
        ts = START + timedelta(microseconds=i * step_us + rng.randrange(step_us or 1))
        code = CODES[rng.randrange(100)]
        host = f"WS-{rng.randrange(500):04d}"
        doc: dict[str, Any] = {
            "@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event": {"code": code, "action": ACTION[code],
                      "outcome": "failure" if code == "4625" else "success"},
            "host": {"name": host},
            "user": {"name": f"user{rng.randrange(2000):04d}"},
            "kizuki": {"data_type": "windows:evtx:record",
                       "logsource": {"product": "windows", "service": "security"}},
        }
        if code == "5156":
            doc["source"] = {"ip": f"10.1.{rng.randrange(2)}.{rng.randrange(250)}"}
            doc["destination"] = {"ip": f"10.2.0.{rng.randrange(250)}"}
        elif code == "4663":
            doc["file"] = {"path": f"\\\\fs01\\share\\dept{rng.randrange(40)}\\f{i % 997}.docx"}
        yield doc


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


class PeakRss:
    """The peak resident set size while a block runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        self.peak = self.start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self.peak = self.start = rss_mib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median seconds of ``runs`` calls after one warm-up call, and the last result."""
    result = fn()
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench_vault(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    signer = Signer.generate("bench-admins")
    root = work / "vault"
    Vault.create(root, signer, fsync="batch").close()
    out: dict[str, Any] = {"rss_after_seal": []}
    seal_time = append_time = 0.0
    sealed = 0
    with PeakRss() as peak, Vault(root) as vault:
        batch: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        for n, doc in enumerate(events(args.events, args.days), 1):
            batch.append(doc)
            if len(batch) >= args.batch:
                vault.append_many(batch)  # returns after fsync: a durable ack
                batch.clear()
            if n % args.seal_every == 0:
                append_time += time.perf_counter() - t0
                s0 = time.perf_counter()
                sealed += vault.seal(signer).events
                seal_time += time.perf_counter() - s0
                out["rss_after_seal"].append((n, round(rss_mib())))
                t0 = time.perf_counter()
        vault.append_many(batch)
        append_time += time.perf_counter() - t0
        s0 = time.perf_counter()
        sealed += vault.seal(signer).events
        seal_time += time.perf_counter() - s0
    out["append_batch_eps"] = args.events / append_time
    out["seal_eps"] = sealed / seal_time
    out["peak_mib"], out["peak_growth_mib"] = peak.peak, peak.peak - peak.start
    sample = min(2000, args.events)
    always = work / "always"
    Vault.create(always, signer, fsync="always").close()
    with Vault(always) as v:
        docs = list(events(sample, 1, seed=2))
        t0 = time.perf_counter()
        for doc in docs:
            v.append(doc)
        out["append_always_eps"] = sample / (time.perf_counter() - t0)
    shutil.rmtree(always)
    t0 = time.perf_counter()
    report = verify(root, signer.verifier)
    out["verify_s"] = time.perf_counter() - t0
    assert report.ok, report.problems
    out["size_mib"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20
    return out


def search_vault(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    root = work / "vault"
    out: dict[str, Any] = {}
    day = START + timedelta(days=args.days // 2)
    month_end = day + timedelta(days=30)
    with PeakRss() as peak:
        out["search_1d_s"], hits1 = timed(
            lambda: search(root, day, day + timedelta(days=1), "host.name=WS-0042"), args.runs)
        out["search_30d_s"], hits30 = timed(
            lambda: search(root, day, month_end, "host.name=WS-0042"), args.runs)
        out["count_30d_s"], _ = timed(
            lambda: search(root, day, month_end, sql="SELECT count(*) FROM events"), args.runs)
    out["search_peak_mib"] = peak.peak
    out["hits_1d"], out["hits_30d"] = len(hits1), len(hits30)
    return out


SQL_COLS = ("ts", "host", "usr", "src", "dst", "code", "action", "outcome", "data_type",
            "event")


def bench_sqlite(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    path = work / "naive.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")  # the same durable ack per batch
    con.execute(f"CREATE TABLE events ({', '.join(SQL_COLS)})")
    con.execute("CREATE INDEX events_ts ON events(ts)")
    insert = f"INSERT INTO events VALUES ({', '.join('?' * len(SQL_COLS))})"
    rows: list[tuple[Any, ...]] = []
    with PeakRss() as peak:
        t0 = time.perf_counter()
        for doc in events(args.events, args.days):
            ev = doc["event"]
            rows.append((doc["@timestamp"], doc["host"]["name"], doc["user"]["name"],
                         doc.get("source", {}).get("ip"), doc.get("destination", {}).get("ip"),
                         ev["code"], ev["action"], ev["outcome"], "windows:evtx:record",
                         orjson.dumps(doc).decode()))
            if len(rows) >= args.batch:
                con.execute("BEGIN")
                con.executemany(insert, rows)
                con.execute("COMMIT")
                rows.clear()
        if rows:
            con.execute("BEGIN")
            con.executemany(insert, rows)
            con.execute("COMMIT")
        elapsed = time.perf_counter() - t0
    con.close()
    out: dict[str, Any] = {"append_batch_eps": args.events / elapsed, "peak_mib": peak.peak,
                           "peak_growth_mib": peak.peak - peak.start}
    out["size_mib"] = sum(p.stat().st_size for p in work.glob("naive.sqlite*")) / 2**20
    return out


def search_sqlite(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The same searches in SQLite: a fresh connection per query, as a CLI would."""
    path = work / "naive.sqlite"
    day = START + timedelta(days=args.days // 2)
    lo, mid, hi = (d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                   for d in (day, day + timedelta(days=1), day + timedelta(days=30)))

    def query(sql: str, params: tuple[str, ...]) -> list[Any]:
        con = sqlite3.connect(path)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    q = "SELECT * FROM events WHERE ts >= ? AND ts < ? AND host = ? ORDER BY ts"
    out: dict[str, Any] = {}
    with PeakRss() as peak:
        out["search_1d_s"], hits1 = timed(lambda: query(q, (lo, mid, "WS-0042")), args.runs)
        out["search_30d_s"], hits30 = timed(lambda: query(q, (lo, hi, "WS-0042")), args.runs)
        out["count_30d_s"], _ = timed(lambda: query(
            "SELECT count(*) FROM events WHERE ts >= ? AND ts < ?", (lo, hi)), args.runs)
    out["search_peak_mib"] = peak.peak
    out["hits_1d"], out["hits_30d"] = len(hits1), len(hits30)
    return out


def isolated(fn: Callable[[argparse.Namespace, Path], dict[str, Any]],
             args: argparse.Namespace) -> dict[str, Any]:
    """Run one phase in a fresh interpreter, so each side's peak RSS is its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(fn, (args, args.workdir))
    return result


def ratio(vault: float, naive: float) -> str:
    return f"{vault / naive:.2f}x" if naive else "-"


def report(args: argparse.Namespace, vault: dict[str, Any], naive: dict[str, Any]) -> None:
    print(f"## Vault benchmark: {args.events:,} events over {args.days} days, "
          f"durable ack per {args.batch} events\n")
    print("| measure | vault (WAL + Parquet + DuckDB) | SQLite (naive peer) | vault / SQLite |")
    print("|---|---|---|---|")

    def row(name: str, key: str, scale: float = 1.0, fmt: str = ",.0f") -> None:
        v, n = vault.get(key), naive.get(key)
        vs = format(v * scale, fmt) if v is not None else "-"
        ns = format(n * scale, fmt) if n is not None else "-"
        r = ratio(v, n) if v is not None and n is not None else "-"
        print(f"| {name} | {vs} | {ns} | {r} |")

    if "append_batch_eps" in vault:
        row("append, ack per batch (events/s)", "append_batch_eps")
        row("append, fsync per event (events/s)", "append_always_eps")
        row("seal (events/s)", "seal_eps")
    row("search 1 day, host.name=WS-0042 (ms)", "search_1d_s", 1e3, ",.1f")
    row("search 30 days, host.name=WS-0042 (ms)", "search_30d_s", 1e3, ",.1f")
    row("count 30 days (ms)", "count_30d_s", 1e3, ",.1f")
    if "append_batch_eps" in vault:
        row("full verify (s)", "verify_s", 1.0, ",.2f")
        row("size on disk (MiB)", "size_mib")
        row("peak RSS while loading (MiB)", "peak_mib")
        row("  of which growth during the load (MiB)", "peak_growth_mib")
    row("peak RSS while searching (MiB)", "search_peak_mib")
    print(f"\nhits: vault 1 day {vault['hits_1d']}, 30 days {vault['hits_30d']}; "
          f"SQLite 1 day {naive['hits_1d']}, 30 days {naive['hits_30d']}")
    if vault.get("rss_after_seal"):
        series = ", ".join(f"{n // 1000:,}k: {m}" for n, m in vault["rss_after_seal"])
        print(f"vault RSS after each seal (MiB): {series}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--batch", type=int, default=1000, help="events per durable ack")
    ap.add_argument("--seal-every", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5, help="timed calls per search (median)")
    ap.add_argument("--workdir", type=Path, default=WORK)
    ap.add_argument("--keep", action="store_true", help="keep the vault and SQLite files")
    ap.add_argument("--search-only", action="store_true",
                    help="only re-time the searches over data kept by an earlier --keep run")
    args = ap.parse_args(argv)
    vault: dict[str, Any] = {}
    naive: dict[str, Any] = {}
    if not args.search_only:
        if args.workdir.exists():
            shutil.rmtree(args.workdir)
        args.workdir.mkdir(parents=True)
        vault = isolated(bench_vault, args)
        print(f"vault loaded: {vault}", file=sys.stderr, flush=True)
        naive = isolated(bench_sqlite, args)
        print(f"sqlite loaded: {naive}", file=sys.stderr, flush=True)
    vault.update(isolated(search_vault, args))
    naive.update(isolated(search_sqlite, args))
    report(args, vault, naive)
    if not args.keep and not args.search_only:
        shutil.rmtree(args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
