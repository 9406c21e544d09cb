"""Command-line entry points of the vault, mounted by ``kizuki.cli`` (R12, R13, R14).

``vault_app`` is the ``kizuki vault`` group (init, seal, verify, backup, restore,
retention, checkpoint). ``ingest_command``, ``search_command`` and
``timeline_command`` are plain functions with Typer annotations, meant to be
registered as ``kizuki ingest --vault``, ``kizuki search`` and ``kizuki timeline``::

    app.add_typer(vault_app, name="vault")
    app.command("search")(search_command)
    app.command("timeline")(timeline_command)

Exit status: 0 success; 1 verification found problems; 2 the command was refused
or failed (message on stderr).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer

from kizuki.errors import KizukiError
from kizuki.model.event import Event, format_ts
from kizuki.vault.manifest import DEFAULT_RETENTION_MONTHS, list_checkpoints
from kizuki.vault.note import Signer, read_signer, read_verifier, write_signer
from kizuki.vault.query import search, timeline
from kizuki.vault.retention import apply_retention, backup, restore
from kizuki.vault.store import Vault
from kizuki.vault.verify import VerifyReport, verify
from kizuki.vault.wal import FsyncPolicy

vault_app = typer.Typer(
    help="The tamper-evident log vault: seal, verify, retention, backup (R13, R14).",
    no_args_is_help=True,
)

VaultDir = Annotated[Path, typer.Argument(help="The vault folder.")]
KeyOpt = Annotated[
    Path, typer.Option("--key", help="Vault administrators' private key file (outside DIR).")
]
PublicKeyOpt = Annotated[
    Path | None, typer.Option("--public-key", help="Auditor's copy of the public key.")
]
TzOpt = Annotated[str, typer.Option("--tz", help="Zone for times given without one.")]
FsyncOpt = Annotated[
    FsyncPolicy | None, typer.Option("--fsync", help="When appends are made durable.")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


@vault_app.command("init")
def init_command(
    directory: VaultDir,
    key: KeyOpt,
    key_name: Annotated[str, typer.Option(help="Name of a newly generated key.")] = (
        "kizuki-vault-admins"
    ),
    public_key_out: Annotated[
        Path | None, typer.Option(help="Also write the public key here (for auditors).")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="Log origin line of checkpoints.")] = None,
    retention_months: Annotated[int, typer.Option(help="Online retention.")] = (
        DEFAULT_RETENTION_MONTHS
    ),
    fsync: Annotated[FsyncPolicy, typer.Option(help="Default fsync policy.")] = FsyncPolicy.BATCH,
) -> None:
    """Create a vault; generate the administrators' key pair unless KEY exists."""
    if _inside(key, directory):
        raise _fail("the private key must not be stored inside the vault folder")
    try:
        if key.exists():
            signer = read_signer(key)
        else:
            signer = Signer.generate(key_name)
            key.parent.mkdir(parents=True, exist_ok=True)
            write_signer(key, signer)
            typer.echo(f"private key written to {key} (keep it away from the vault host)")
        vault = Vault.create(
            directory, signer, origin=origin, retention_months=retention_months, fsync=fsync
        )
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    public = signer.verifier.encode() + "\n"
    (directory / "vault.pub").write_text(public)
    if public_key_out is not None:
        public_key_out.write_text(public)
    typer.echo(f"vault {vault.config.origin} created in {directory}")
    typer.echo(f"public key (give it to auditors): {public.strip()}")


@vault_app.command("seal")
def seal_command(directory: VaultDir, key: KeyOpt) -> None:
    """Seal finished WAL files into segments and sign a new checkpoint."""
    try:
        report = Vault(directory).seal(read_signer(key))
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    for torn in report.torn:
        typer.echo(f"recovered: {torn.describe()}", err=True)
    if report.rolled_back:
        typer.echo(
            f"rolled back {report.rolled_back} unsigned leaves of an interrupted seal", err=True
        )
    if report.rejected:
        typer.echo(f"{report.rejected} records were not events; kept in wal/torn/", err=True)
    typer.echo(
        f"sealed {report.events} events into {len(report.segments)} segments; "
        f"checkpoint size {report.checkpoint_size}"
        + (
            f"; {report.active_wal_skipped} live WAL files left for the next seal"
            if report.active_wal_skipped
            else ""
        )
    )


def _print_report(report: VerifyReport, quiet: bool) -> None:
    for finding in report.problems:
        typer.echo(f"FAIL {finding}", err=True)
    if not quiet:
        for finding in report.notes:
            typer.echo(f"note {finding}")
    status = "OK" if report.ok else f"FAILED ({len(report.problems)} problems)"
    typer.echo(
        f"{status}: {report.leaves} leaves, {report.segments_checked} segments hashed, "
        f"latest valid checkpoint size {report.checkpoint_size}"
    )


@vault_app.command("verify")
def verify_command(
    directory: VaultDir,
    public_key: Annotated[Path, typer.Option("--public-key", help="The auditor's public key.")],
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint the auditor saw earlier.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only problems.")] = False,
) -> None:
    """Check every segment, leaf and checkpoint; exit 0 only if all verifies."""
    try:
        report = verify(directory, public_key, checkpoint)
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    _print_report(report, quiet)
    if not report.ok:
        raise typer.Exit(1)


@vault_app.command("checkpoint")
def checkpoint_command(directory: VaultDir) -> None:
    """Print the latest checkpoint (auditors keep a copy to check later history)."""
    found = [p for size, p in list_checkpoints(directory) if size is not None]
    if not found:
        raise _fail(f"no checkpoint in {directory}")
    sys.stdout.write(found[-1].read_text())


@vault_app.command("retention")
def retention_command(
    directory: VaultDir,
    key: KeyOpt,
    months: Annotated[int | None, typer.Option(help="Override the vault's retention.")] = None,
    now: Annotated[str | None, typer.Option(help="Reference time (ISO 8601).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
) -> None:
    """Remove whole segments older than the retention, by a signed retention record."""
    try:
        ref = _parse_time(now, "UTC") if now else None
        report = apply_retention(
            directory, read_signer(key), months=months, now=ref, dry_run=dry_run
        )
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    verb = "would remove" if dry_run else "removed"
    for path in report.removed:
        typer.echo(f"{verb} {path}")
    typer.echo(
        f"{verb} {len(report.removed)} segments older than {format_ts(report.cutoff)}"
        + (
            f"; retention record is leaf {report.record_leaf}"
            if report.record_leaf is not None
            else ""
        )
    )


@vault_app.command("backup")
def backup_command(
    directory: VaultDir,
    dest: Annotated[Path, typer.Argument(help="Backup folder holding the generations.")],
    generations: Annotated[int, typer.Option(help="Generations to keep.")] = 3,
    public_key: PublicKeyOpt = None,
) -> None:
    """Write a verified backup generation; prune the oldest beyond --generations."""
    try:
        verifier = read_verifier(public_key) if public_key else None
        report = backup(directory, dest, generations=generations, public_key=verifier)
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"backup {report.generation.name}: {report.tree_size} leaves, "
        f"{report.copied} segments copied, {report.linked} shared with the previous "
        f"generation, verified; pruned {len(report.pruned)}"
    )


@vault_app.command("restore")
def restore_command(
    backup_dir: Annotated[Path, typer.Argument(help="Backup folder holding the generations.")],
    target: Annotated[Path, typer.Argument(help="Empty or new folder to restore into.")],
    generation: Annotated[str | None, typer.Option(help="Generation name (default: newest).")] = (
        None
    ),
    public_key: PublicKeyOpt = None,
) -> None:
    """Restore a backup generation, verified before and after."""
    try:
        verifier = read_verifier(public_key) if public_key else None
        report = restore(backup_dir, target, generation=generation, public_key=verifier)
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"restored {report.leaves} leaves into {target}; verified")


def _parse_time(text: str | None, tz: str) -> datetime | None:
    if text is None:
        return None
    try:
        ts = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=ZoneInfo(tz))


def ingest_events(
    vault_dir: Path, events: Iterable[Event], *, fsync: FsyncPolicy | None = None, batch: int = 1000
) -> int:
    """Append events to a vault in durable batches; return how many (for ``ingest --vault``)."""
    n = 0
    chunk: list[Event] = []
    with Vault(vault_dir, fsync=fsync) as vault:
        for event in events:
            chunk.append(event)
            if len(chunk) >= batch:
                n += vault.append_many(chunk)
                chunk.clear()
        n += vault.append_many(chunk)
    return n


def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="Log files, folders or archives.")],
    vault: Annotated[Path, typer.Option("--vault", help="Append to this vault.")],
    timezone: Annotated[str, typer.Option("--timezone", help="Zone of naive times.")] = (
        "Asia/Tokyo"
    ),
    fsync: FsyncOpt = None,
) -> None:
    """Read logs and append the normalized events to a vault (no key needed)."""
    from kizuki.sources.base import SourceSettings
    from kizuki.sources.reader import Reader

    reader = Reader(SourceSettings(timezone))
    try:
        n = ingest_events(vault, reader.read(paths), fsync=fsync)
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"appended {n} events to {vault} (unsealed until `kizuki vault seal`)")


def _emit(rows: list[dict[str, Any]], jsonl: bool) -> None:
    out = sys.stdout
    for row in rows:
        if jsonl:
            out.write(orjson.dumps(row.get("event", row), default=str).decode() + "\n")
            continue
        ts = row.get("@timestamp")
        when = format_ts(ts) if isinstance(ts, datetime) else str(ts)
        cols = [
            row.get(k)
            for k in (
                "host.name",
                "user.name",
                "event.code",
                "event.action",
                "event.outcome",
                "data_type",
            )
        ]
        out.write(when + "  " + "  ".join("-" if c is None else str(c) for c in cols) + "\n")


def search_command(
    query: Annotated[str, typer.Argument(help="Terms like 'host.name=WS-01 user.name=alice'.")] = (
        ""
    ),
    vault: Annotated[Path, typer.Option("--vault", help="The vault to search.")] = Path("."),
    start: Annotated[str | None, typer.Option("--from", help="Start time (ISO 8601).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time, exclusive.")] = None,
    sql: Annotated[str | None, typer.Option("--sql", help="SQL over the view 'events'.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many rows.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print full events as JSON.")] = False,
    tz: TzOpt = "Asia/Tokyo",
) -> None:
    """Search stored events by time range and fields, or with SQL (R12)."""
    try:
        rows = search(
            vault, _parse_time(start, tz), _parse_time(end, tz), query or None, sql, limit=limit
        )
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    if sql is not None:
        for row in rows:
            sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")
        return
    _emit(rows, jsonl)


def timeline_command(
    vault: Annotated[Path, typer.Option("--vault", help="The vault to read.")] = Path("."),
    host: Annotated[str | None, typer.Option("--host", help="Host (any spelling).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="User (with or without domain).")] = (
        None
    ),
    start: Annotated[str | None, typer.Option("--from", help="Start time (ISO 8601).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time, exclusive.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many rows.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print full events as JSON.")] = False,
    tz: TzOpt = "Asia/Tokyo",
) -> None:
    """Everything one host or user did, in time order, for an investigation."""
    try:
        rows = timeline(
            vault, host, user, _parse_time(start, tz), _parse_time(end, tz), limit=limit
        )
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    _emit(rows, jsonl)


def _standalone() -> typer.Typer:
    """The vault commands as one app, for ``python -m kizuki.vault.cli``."""
    app = typer.Typer(no_args_is_help=True)
    app.add_typer(vault_app, name="vault")
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
    app.command("timeline")(timeline_command)
    return app


if __name__ == "__main__":
    _standalone()()
