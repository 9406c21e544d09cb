"""Kizuki's side of the detection benchmark: one process, one job, run by ``detect_bench.py``.

    kizuki_detect.py rules EVENTS.jsonl COUNTS.json --rules DIR [--path auto|rows|columnar]
    kizuki_detect.py scenario EVENTS.jsonl OUT.tsv --scenario FILE [--path auto|rows|columnar]

``rules``: the Sigma rules under DIR (``kizuki.rules.load_ruleset``) over the events; writes
``{"events": n, "matched": m, "per_rule": {title: hits}}`` so the harness can compare the
hits per rule with pySigma's SQLite backend.

``scenario``: one scenario file (Kizuki's scenario format) over the events; writes one
``host<TAB>first_event_time`` line per scenario alert (the host and time of the alert's
first evidence event, as the peers write them), which ``peers/check.py`` scores.

``--path`` picks how events reach the engine: ``grep`` = ``kizuki.detect.grep`` (the
rules' necessary literals searched in the raw bytes, only those lines parsed; falls back
to columnar when a rule has no such literal); ``rows`` = ``kizuki.sources.Reader`` →
``Engine.feed`` (every event normalized, every candidate rule evaluated); ``columnar`` =
``kizuki.detect.columnar.scan_jsonl`` → ``Engine.feed_matched`` (an Arrow scan that builds
events for matched rows only); ``auto`` = grep when every rule has a literal and a
sample shows at most a quarter of the lines hold one, else columnar when the module
exists. The engine runs
with a bounded lateness (the live mode, ``LATENESS``): the input is time-sorted, so the
alerts are the ones an unbounded hunt gives, and state stays bounded.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from kizuki.detect import Detector, Engine, EngineSettings
from kizuki.model import Alert, AlertKind, Event
from kizuki.rules import CompiledRule, RuleIndex, load_ruleset

#: Live-mode lateness; the shared workload is sorted by time, so nothing arrives later.
LATENESS = timedelta(minutes=5)
BATCH = 10_000


def has_columnar() -> bool:
    """Whether the columnar scan (``kizuki.detect.columnar``) is in this tree."""
    return importlib.util.find_spec("kizuki.detect.columnar") is not None


def _rows(path: Path) -> Iterator[Event]:
    from kizuki.sources import Reader, SourceSettings

    return Reader(SourceSettings()).read([path])


def _run(engine: Engine, events: Path, index: RuleIndex, mode: str) -> Iterator[Alert]:
    """Feed the whole file to ``engine`` by ``mode``; yield alerts as they are decided."""
    if mode in ("auto", "grep"):
        from kizuki.detect.grep import WORTH_IT, byte_needles, candidate_share

        needles = byte_needles(index.rules)
        if needles is not None and (mode == "grep" or
                                    candidate_share([events], needles) <= WORTH_IT):
            mode = "grep"
        elif mode == "grep" or has_columnar():
            mode = "columnar" if has_columnar() else "rows"
        else:
            mode = "rows"
    if mode == "grep":
        yield from _run_grep(engine, events, index)
    elif mode == "columnar":
        yield from _run_columnar(engine, events, index)
    else:
        batch: list[Event] = []
        for event in _rows(events):
            batch.append(event)
            if len(batch) >= BATCH:
                yield from engine.feed(batch)
                batch = []
        yield from engine.feed(batch)
    yield from engine.close()
    print(f"kizuki: path={mode} events={engine.events_seen} matched={engine.events_matched}",
          file=sys.stderr)


def _run_grep(engine: Engine, events: Path, index: RuleIndex) -> Iterator[Alert]:
    """The grep-first scan: the rules' necessary literals found in the raw bytes, only
    those lines parsed (kizuki.detect.grep); the rows read, for the statistics."""
    from kizuki.detect.grep import GrepScan, byte_needles

    needles = byte_needles(index.rules)
    assert needles is not None
    scan = GrepScan(index, needles)
    pairs: list[tuple[Event, Sequence[CompiledRule]]] = []
    for pair in scan.matches([events]):
        pairs.append(pair)
        if len(pairs) >= BATCH:
            yield from engine.feed_matched(pairs)
            pairs = []
    yield from engine.feed_matched(pairs, seen=scan.rows)


def _run_columnar(engine: Engine, events: Path, index: RuleIndex) -> Iterator[Alert]:
    """The Arrow scan: pairs (event, matched rules) for matched rows only, fed in chunks
    so that alerts stream out; then the rows read, for the engine's statistics."""
    from kizuki.detect.columnar import scan_jsonl

    scan = scan_jsonl(events, index)
    pairs: list[tuple[Event, Sequence[CompiledRule]]] = []
    for pair in scan:
        pairs.append(pair)
        if len(pairs) >= BATCH:
            yield from engine.feed_matched(pairs)
            pairs = []
    yield from engine.feed_matched(pairs, seen=scan.rows)


def run_rules(events: Path, rules_dir: Path, out: Path, mode: str) -> None:
    """The single-event rules: hits per rule title, as JSON."""
    ruleset = load_ruleset([rules_dir])
    if ruleset.errors:
        raise SystemExit(f"rules failed to load: {ruleset.errors}")
    index = RuleIndex(ruleset.rules)
    engine = Engine(index, (), EngineSettings(lateness=LATENESS))
    per_rule: Counter[str] = Counter()
    for alert in _run(engine, events, index, mode):
        if alert.kind == AlertKind.rule:
            per_rule[alert.rule_title] += 1
    out.write_text(json.dumps({
        "events": engine.events_seen, "matched": engine.events_matched,
        "per_rule": dict(sorted(per_rule.items())),
    }, indent=1))


def _scenario_engine(scenario: Path) -> tuple[RuleIndex, list[Detector]]:
    """Kizuki's scenario engine for one scenario file: its rule index and detector."""
    try:
        detect_mod: Any = importlib.import_module("kizuki.detect.scenario")
    except ImportError as exc:
        raise SystemExit(f"pending: Kizuki's scenario engine is not in this tree ({exc})") \
            from exc
    detector, loaded = detect_mod.ScenarioDetector.from_paths([scenario])
    if loaded.errors or not loaded.scenarios:
        raise SystemExit(f"scenario failed to load: {loaded.errors}")
    return RuleIndex(loaded.rules), [detector]


def _first_evidence(alert: Alert) -> Event:
    return min((ev.event for ev in alert.evidence), key=lambda e: e.timestamp)


def run_scenario(events: Path, scenario: Path, out: Path, mode: str) -> None:
    """One scenario: ``host<TAB>first_event_time`` per scenario alert."""
    index, detectors = _scenario_engine(scenario)
    engine = Engine(index, detectors, EngineSettings(lateness=LATENESS))
    lines: list[str] = []
    for alert in _run(engine, events, index, mode):
        if alert.kind != AlertKind.scenario:
            continue
        first = _first_evidence(alert)
        ts = first.timestamp.astimezone(UTC).isoformat(timespec="milliseconds")
        lines.append(f"{first.host}\t{ts.replace('+00:00', 'Z')}\n")
    out.write_text("".join(lines))


def main(argv: Iterable[str] | None = None) -> None:
    """Parse the command line and run one job."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("job", choices=("rules", "scenario"))
    ap.add_argument("events", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rules", type=Path, help="Sigma rule folder (job rules)")
    ap.add_argument("--scenario", type=Path, help="scenario file (job scenario)")
    ap.add_argument("--path", choices=("auto", "grep", "rows", "columnar"), default="auto")
    args = ap.parse_args(None if argv is None else list(argv))
    if args.job == "rules":
        if args.rules is None:
            ap.error("rules needs --rules DIR")
        run_rules(args.events, args.rules, args.out, args.path)
    else:
        if args.scenario is None:
            ap.error("scenario needs --scenario FILE")
        run_scenario(args.events, args.scenario, args.out, args.path)


if __name__ == "__main__":
    main()
