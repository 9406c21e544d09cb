"""The ``kizuki`` command: thin commands that build settings and call the modules."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kizuki import __version__
from kizuki.assess.cli import coverage_command, eval_command
from kizuki.detect.hunt import hunt as hunt_paths
from kizuki.detect.hunt import hunt_events, load_detection
from kizuki.errors import KizukiError
from kizuki.export import DeadLetterWriter, JsonlWriter, ParquetWriter
from kizuki.model import Alert, Event, Origin
from kizuki.report import csv_writer, jsonl_writer, render_table, write_html
from kizuki.sources import Reader, SourceSettings
from kizuki.sources.base import ParseWarning
from kizuki.sources.observation import Observation, to_event
from kizuki.sources.reader import ReadStats
from kizuki.sources.registry import parsers
from kizuki.timeline import (
    TimelineCollector,
    print_warnings_summary,
    stats_table,
    timeline_table,
)
from kizuki.vault.cli import ingest_events, search_command, timeline_command, vault_app
from kizuki.vault.replay import replay

app = typer.Typer(
    name="kizuki",
    help="Kizuki (気づき): scenario-based detection of targeted attacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
demo_app = typer.Typer(help="Sample data: a realistic week of a small organisation's logs.")
app.add_typer(demo_app, name="demo")
app.add_typer(vault_app, name="vault")
app.command("search")(search_command)
app.command("timeline")(timeline_command)
app.command("eval")(eval_command)
app.command("coverage")(coverage_command)

# Piped output keeps whole lines: a timeline is read, not fitted to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True)


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


Paths = Annotated[list[Path], typer.Argument(help="Log files, folders or archives.")]
TimezoneOpt = Annotated[
    str, typer.Option("--timezone", help="Zone of logs written in local time (syslog, Apache).")
]
YearOpt = Annotated[
    int | None, typer.Option("--year", help="Year of RFC 3164 syslog lines (default: file date).")
]
FormatInOpt = Annotated[
    str | None, typer.Option("--format-in", help="Force one input format (see `kizuki formats`).")
]
DeadLetterOpt = Annotated[
    Path | None,
    typer.Option("--dead-letter", help="Where bad records go (JSON lines; created when needed)."),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"kizuki {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Kizuki (気づき): collect, keep, detect, respond, assess."""


class _Warnings:
    """Dead-letter file plus a few warnings shown on stderr as they happen."""

    def __init__(self, dead_letter: DeadLetterWriter, show: int = 5) -> None:
        self.dead_letter = dead_letter
        self.show = show
        self.shown = 0

    def __call__(self, warning: ParseWarning) -> None:
        self.dead_letter(warning)
        if self.shown < self.show:
            self.shown += 1
            err.print(f"[yellow]warning[/] {warning.where}: {warning.kind}: {warning.message}",
                      highlight=False, markup=True, soft_wrap=True)
        elif self.shown == self.show:
            self.shown += 1
            err.print("[yellow]… more warnings in the dead-letter file[/]")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    )


@app.command()
def ingest(
    paths: Paths,
    format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.jsonl
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file (default: stdout, jsonl).")
    ] = None,
    stats: Annotated[
        Path | None, typer.Option("--stats", help="Write per-file counts as JSON here.")
    ] = None,
    dead_letter: DeadLetterOpt = None,
    vault: Annotated[
        Path | None,
        typer.Option("--vault", help="Append to this vault instead (durable; no key needed)."),
    ] = None,
    timezone: TimezoneOpt = "Asia/Tokyo",
    year: YearOpt = None,
    format_in: FormatInOpt = None,
) -> None:
    """Read logs of any supported format and write normalized events (R10, R11).

    With ``--vault`` the events are appended to the vault's write-ahead log and are
    durable when the command returns; ``kizuki vault seal`` signs them in (R13, R14).
    """
    if vault is not None:
        letters = DeadLetterWriter(dead_letter or vault.parent / f"{vault.name}.dead-letter.jsonl")
        reader = Reader(SourceSettings(timezone, year), sink=_Warnings(letters), fmt=format_in)
        try:
            n = ingest_events(vault, reader.read(paths))
        finally:
            letters.close()
        if stats:
            stats.write_bytes(orjson.dumps(reader.stats.to_dict(), option=orjson.OPT_INDENT_2))
        err.print(f"appended {n:,} events to {vault} (unsealed until `kizuki vault seal`)")
        _report(reader, letters)
        return
    if format is OutputFormat.parquet and output is None:
        raise typer.BadParameter("Parquet needs --output FILE", param_hint="--format")
    dl_path = dead_letter or Path(f"{output}.dead-letter.jsonl" if output else
                                  "kizuki-dead-letter.jsonl")
    letters = DeadLetterWriter(dl_path)
    reader = Reader(SourceSettings(timezone, year), sink=_Warnings(letters), fmt=format_in)
    writer: JsonlWriter | ParquetWriter
    out_fh = None
    if format is OutputFormat.parquet:
        assert output is not None
        writer = ParquetWriter(output)
    else:
        out_fh = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
        writer = JsonlWriter(out_fh)
    try:
        with _progress() as progress:
            task = progress.add_task("reading", total=None)
            for n, event in enumerate(reader.read(paths), 1):
                writer.write(event)
                if n % 10_000 == 0:
                    progress.update(task, completed=n)
    finally:
        writer.close()
        letters.close()
        if output and out_fh is not None:
            out_fh.close()
    if stats:
        stats.write_bytes(orjson.dumps(reader.stats.to_dict(), option=orjson.OPT_INDENT_2))
    _report(reader, letters)


def _report(reader: Reader, letters: DeadLetterWriter) -> None:
    per_format = reader.stats.per_format()
    fmt = ", ".join(f"{name}: {n:,}" for name, n in per_format.most_common())
    err.print(f"[bold]{reader.stats.records:,} events[/] from {len(reader.stats.files)} inputs"
              + (f" ({fmt})" if fmt else ""))
    print_warnings_summary(err, reader.stats)
    if letters.count:
        err.print(f"dead letters: {letters.path}")


class HuntFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    html = "html"


def _context_beside(paths: list[Path]) -> Path | None:
    """A ``context/`` folder inside a hunted folder (as ``kizuki demo generate`` writes)."""
    for p in paths:
        candidate = p / "context"
        if p.is_dir() and (candidate / "assets.yaml").is_file():
            return candidate
    return None


@app.command()
def hunt(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Log files, folders or archives.")
    ] = None,
    vault: Annotated[
        Path | None, typer.Option("--vault", help="Hunt over the history stored in a vault.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--from", help="With --vault: from (ISO 8601).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--to", help="With --vault: until (ISO 8601).")
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Sigma rules (files or folders; repeatable)."),
    ] = None,
    scenarios: Annotated[
        list[Path] | None,
        typer.Option("--scenarios", help="Scenario folders or files (repeatable)."),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option("--context", help="Context folder: assets.yaml, zones.yaml, calendar.yaml."),
    ] = None,
    builtin: Annotated[
        bool | None,
        typer.Option("--builtin/--no-builtin",
                     help="Add the built-in library (default: only when no rules given)."),
    ] = None,
    output_format: Annotated[
        HuntFormat, typer.Option("--format", help="Alerts as a table, jsonl, csv or html.")
    ] = HuntFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the alerts here.")
    ] = None,
    min_level: Annotated[
        str, typer.Option("--min-level", help="Lowest Sigma level that raises a rule alert.")
    ] = "low",
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes (0: one per core).")
    ] = 0,
    events: Annotated[
        int, typer.Option("--events", help="Also show the first N events as a timeline.")
    ] = 0,
    show_inputs: Annotated[
        bool, typer.Option("--inputs/--no-inputs", help="Show the per-file table.")
    ] = True,
    dead_letter: DeadLetterOpt = None,
    timezone: TimezoneOpt = "Asia/Tokyo",
    year: YearOpt = None,
    format_in: FormatInOpt = None,
) -> None:
    """Hunt: read logs, run rules, correlations and scenarios, show the alerts (R15, R16)."""
    settings = SourceSettings(timezone, year)
    jobs = jobs or os.cpu_count() or 1
    paths = paths or []
    if not paths and vault is None:
        raise typer.BadParameter("give log files or folders, or --vault DIR")
    context = context or _context_beside(paths)
    detection = load_detection(rules or [], scenarios or [], context, builtin=builtin,
                               min_rule_level=min_level)
    for error in detection.errors:
        err.print(f"[yellow]rule error[/] {error}", highlight=False, markup=True)
    letters = DeadLetterWriter(dead_letter or Path("kizuki-dead-letter.jsonl"))
    collector = TimelineCollector(events) if events else None
    # JSON lines and CSV are written as alerts are decided, so a hunt with hundreds of
    # thousands of alerts never holds them all; the table and HTML need them all.
    streamed = output_format in (HuntFormat.jsonl, HuntFormat.csv)
    fh: TextIO | None = None
    on_alert: Callable[[Alert], None] | None = None
    if streamed:
        fh = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
        on_alert = jsonl_writer(fh) if output_format is HuntFormat.jsonl else csv_writer(fh)
    try:
        with _progress() as progress:
            task = progress.add_task("hunting", total=None)
            seen = 0

            def on_event(event: Event) -> None:
                nonlocal seen
                seen += 1
                if collector is not None:
                    collector.add(event)
                if seen % 10_000 == 0:
                    progress.update(task, completed=seen)

            if vault is not None:
                zone = settings.tz
                lo = since.replace(tzinfo=since.tzinfo or zone) if since else None
                hi = until.replace(tzinfo=until.tzinfo or zone) if until else None

                def stored() -> Iterator[Event]:
                    for event in replay(vault, lo, hi):
                        on_event(event)
                        yield event

                result = hunt_events(stored(), detection, on_alert)
            else:
                result = hunt_paths(paths, detection, settings=settings,
                                    sink=_Warnings(letters), jobs=jobs,
                                    on_event=on_event if collector is not None else None,
                                    fmt=format_in, on_alert=on_alert)
    finally:
        letters.close()
        if fh is not None and output:
            fh.close()
    alerts = result.alerts
    stats = ReadStats(result.files)
    if output_format is HuntFormat.table:
        if show_inputs:
            console.print(stats_table(stats))
        if collector is not None:
            console.print(timeline_table(collector.events(), settings.tz,
                                         f"Events: the earliest {len(collector.events()):,}"))
        console.print(render_table(alerts, timezone))
    elif output_format is HuntFormat.html:
        target = output or Path("kizuki-report.html")
        write_html(alerts, target, timezone, f"Kizuki hunt: {', '.join(map(str, paths))}")
        err.print(f"report written to {target}")
    by_kind = result.counts
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(by_kind.items()))
    err.print(f"[bold]{sum(by_kind.values()):,} alerts[/]" + (f" ({kinds})" if kinds else "")
              + f" from {result.events_seen:,} events, {result.events_matched:,} matched"
              + (f", {result.late_events:,} too late" if result.late_events else ""))
    print_warnings_summary(err, stats)
    if letters.count:
        err.print(f"dead letters: {letters.path}")


@app.command()
def observe(
    text: Annotated[str, typer.Argument(help="What was observed, in plain words.")],
    analyst: Annotated[str, typer.Option("--analyst", "-a", help="Who observed it.")],
    host: Annotated[str | None, typer.Option("--host")] = None,
    user: Annotated[str | None, typer.Option("--user")] = None,
    source_ip: Annotated[str | None, typer.Option("--source-ip")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Repeatable.")] = None,
    severity: Annotated[str, typer.Option("--severity")] = "low",
    at: Annotated[
        datetime | None, typer.Option("--at", help="When (ISO 8601; naive = --timezone).")
    ] = None,
    timezone: TimezoneOpt = "Asia/Tokyo",
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Observations file (appended).")
    ] = Path("observations.jsonl"),
) -> None:
    """Add a human signal to the timeline: a call, an e-mail, a hunch (R17)."""
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=SourceSettings(timezone).tz)
    obs = Observation(text=text, analyst=analyst, timestamp=when, host=host, user=user,
                      source_ip=source_ip, tags=tag or [], severity=severity.lower())
    event: Event = to_event(orjson.loads(obs.to_json()), Origin(str(output)))
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "ab") as fh:
        fh.write(obs.to_json() + b"\n")
    err.print(f"observation recorded in {output} at "
              f"{event.timestamp.astimezone(SourceSettings(timezone).tz):%Y-%m-%d %H:%M %Z}")


@app.command()
def formats() -> None:
    """List the log formats Kizuki reads."""
    for name, cls in sorted(parsers().items()):
        console.print(f"[bold]{name}[/]  {cls.DESCRIPTION}")


@demo_app.command("generate")
def demo_generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the logs into.")],
    seed: Annotated[int, typer.Option("--seed")] = 7,
    start: Annotated[
        datetime | None, typer.Option("--start", formats=["%Y-%m-%d"], help="First day.")
    ] = None,
) -> None:
    """Write one realistic week of logs with one S7 instance and decoys (seeded)."""
    from kizuki import demo

    kwargs: dict[str, object] = {"seed": seed}
    if start is not None:
        kwargs["start"] = date(start.year, start.month, start.day)
    demo.generate(out_dir, **kwargs)  # type: ignore[arg-type]
    err.print(f"wrote demo logs to {out_dir} (ground truth: {out_dir / 'ground_truth.json'})")


def main() -> None:
    """Entry point: KizukiError ends with its message and status 2, not a traceback."""
    try:
        app()
    except KizukiError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
