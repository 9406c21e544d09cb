"""The ``kizuki`` command: thin commands that build settings and call the modules."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kizuki import __version__
from kizuki.errors import KizukiError
from kizuki.export import DeadLetterWriter, JsonlWriter, ParquetWriter
from kizuki.model import Event, Origin
from kizuki.sources import Reader, SourceSettings
from kizuki.sources.base import ParseWarning
from kizuki.sources.observation import Observation, to_event
from kizuki.sources.registry import parsers
from kizuki.timeline import (
    TimelineCollector,
    print_warnings_summary,
    stats_table,
    timeline_table,
)
from kizuki.vault.cli import ingest_events, search_command, timeline_command, vault_app

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


@app.command()
def hunt(
    paths: Paths,
    limit: Annotated[int, typer.Option("--limit", help="Timeline rows to show.")] = 200,
    show_inputs: Annotated[
        bool, typer.Option("--inputs/--no-inputs", help="Show the per-file table.")
    ] = True,
    dead_letter: DeadLetterOpt = None,
    timezone: TimezoneOpt = "Asia/Tokyo",
    year: YearOpt = None,
    format_in: FormatInOpt = None,
) -> None:
    """Read logs and show them as one timeline (detections join it in the engine)."""
    settings = SourceSettings(timezone, year)
    letters = DeadLetterWriter(dead_letter or Path("kizuki-dead-letter.jsonl"))
    reader = Reader(settings, sink=_Warnings(letters), fmt=format_in)
    collector = TimelineCollector(limit)
    try:
        with _progress() as progress:
            task = progress.add_task("reading", total=None)
            for event in reader.read(paths):
                collector.add(event)
                if collector.seen % 10_000 == 0:
                    progress.update(task, completed=collector.seen)
    finally:
        letters.close()
    if show_inputs:
        console.print(stats_table(reader.stats))
    shown = collector.events()
    title = f"Timeline: {collector.seen:,} events"
    if collector.seen > len(shown):
        title += f" (the earliest {len(shown):,} shown; --limit to change)"
    console.print(timeline_table(shown, settings.tz, title))
    _report(reader, letters)


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
