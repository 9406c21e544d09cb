"""The vault itself: append events durably, seal them into signed, hashed segments (R13, R14).

Two roles touch a vault. The **ingest** role opens ``Vault(dir)`` and appends; it
needs no key and writes only into ``wal/``. The **vault administrators** run ``seal``
(and retention) with the private key, which turns finished WAL files into immutable
segments, appends one leaf per segment to the manifest and signs a new checkpoint.
The checkpoint is the commit point: manifest lines after the latest checkpoint are
an interrupted seal, which the next seal rolls back and redoes from the WAL (WAL
files are deleted only after the checkpoint that covers them is durable).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from kizuki.model.event import Event, format_ts
from kizuki.vault import merkle
from kizuki.vault.manifest import (
    CHECKPOINT_DIR,
    LOG_DIR,
    MANIFEST,
    SEGMENT_DIR,
    WAL_DIR,
    ManifestLine,
    VaultConfig,
    VaultError,
    append_manifest,
    atomic_write,
    checkpoint_path,
    list_checkpoints,
    read_manifest,
    truncate_manifest,
)
from kizuki.vault.note import Checkpoint, NoteError, Signer, Verifier
from kizuki.vault.segments import (
    TS_COLUMN,
    SegmentBuffer,
    SegmentWriter,
    canonical_ts,
    data_type_of,
    encode_event,
    source_slug,
)
from kizuki.vault.wal import (
    FsyncPolicy,
    TornTail,
    WalWriter,
    fsync_dir,
    read_records,
    recover,
    try_lock,
    wal_files,
)

#: Rows per segment file at most (a day of one source is usually one file).
SEGMENT_ROWS = 1_000_000
#: Rows pending across all open (day, source) groups before the largest is written out.
BUFFER_ROWS = 65_536
#: Rows per Parquet row group (DuckDB's unit of parallelism and pruning).
ROW_GROUP_ROWS = 32_768
#: Segment files open at once while sealing (many days of backfill at once).
MAX_OPEN_SEGMENTS = 16


@dataclass(slots=True)
class SealReport:
    """What one ``seal`` did."""

    events: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_size: int = 0
    torn: list[TornTail] = field(default_factory=list)
    rejected: int = 0
    active_wal_skipped: int = 0
    rolled_back: int = 0
    orphans_removed: int = 0


def now_utc() -> datetime:
    return datetime.now(UTC)


class Vault:
    """An open vault. Appending needs no key; sealing needs the administrators' key."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy | str | None = None,
        roll_bytes: int = 64 << 20,
    ) -> None:
        self.root = Path(root)
        self.config = VaultConfig.load(self.root)
        self.policy = FsyncPolicy(fsync) if fsync else self.config.fsync
        self.roll_bytes = roll_bytes
        self._writer: WalWriter | None = None

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        signer: Signer,
        *,
        origin: str | None = None,
        retention_months: int = 24,
        fsync: FsyncPolicy | str = FsyncPolicy.BATCH,
    ) -> Vault:
        """Lay out a new vault and sign its empty checkpoint (tree size 0)."""
        path = Path(root)
        if path.exists() and any(path.iterdir()):
            raise VaultError("folder exists and is not empty", where=str(path))
        for sub in (WAL_DIR, SEGMENT_DIR, LOG_DIR, CHECKPOINT_DIR):
            (path / sub).mkdir(parents=True, exist_ok=True)
        config = VaultConfig(
            origin=origin or f"kizuki.vault/{uuid.uuid4().hex[:16]}",
            public_key=signer.verifier.encode(),
            fsync=FsyncPolicy(fsync),
            retention_months=retention_months,
        )
        config.save(path)
        (path / MANIFEST).touch()
        note = Checkpoint(config.origin, 0, merkle.EMPTY_ROOT, _time_ext(now_utc())).sign(signer)
        atomic_write(checkpoint_path(path, 0), note.encode())
        return cls(path)

    # -- ingest role -------------------------------------------------------------------

    def _wal(self) -> WalWriter:
        if self._writer is None:
            self._writer = WalWriter(self.root / WAL_DIR, self.policy, self.roll_bytes)
        return self._writer

    def append(self, event: Event | Mapping[str, Any]) -> None:
        """Append one event; durable on return under ``always`` (else after ``flush``)."""
        self._wal().append(encode_event(event))

    def append_many(self, events: Iterable[Event | Mapping[str, Any]]) -> int:
        """Append events; all durable on return unless the policy is ``never``."""
        return self._wal().append_many(encode_event(e) for e in events)

    def flush(self) -> None:
        """Make every appended event durable (``batch``)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def recover(self) -> list[TornTail]:
        """Cut torn tails off finished WAL files (after a crash); report each."""
        out: list[TornTail] = []
        for path in wal_files(self.root / WAL_DIR):
            fd = try_lock(path)
            if fd is None:
                continue
            try:
                torn = recover(path)
            finally:
                os.close(fd)
            if torn:
                out.append(torn)
        return out

    def unsealed_records(self) -> Iterator[bytes]:
        """Every event still in the WAL, live files included (whole frames only)."""
        if self._writer is not None:
            self._writer.flush()
        for path in wal_files(self.root / WAL_DIR):
            try:
                yield from read_records(path)
            except FileNotFoundError:  # sealed and removed while we looked
                continue

    # -- administrators ----------------------------------------------------------------

    @contextmanager
    def admin_lock(self) -> Iterator[None]:
        fd = os.open(self.root / LOG_DIR / "admin.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def check_key(self, signer: Signer) -> Verifier:
        verifier = signer.verifier
        if verifier != self.config.verifier:
            raise VaultError(
                f"key {verifier.name}+{verifier.id.hex()} is not this vault's key "
                f"({self.config.public_key.split('+')[0]}+{self.config.public_key.split('+')[1]})"
            )
        return verifier

    def committed_log(self, verifier: Verifier) -> tuple[list[ManifestLine], Checkpoint]:
        """The manifest lines covered by the latest checkpoint, after checking both.

        Administrators never sign on top of a log that no longer matches what they
        signed before: that would launder an intruder's change.
        """
        lines, _ = read_manifest(self.root)
        latest: Checkpoint | None = None
        for size, path in reversed(list_checkpoints(self.root)):
            if size is None:
                continue
            try:
                latest = Checkpoint.open(path.read_text(), verifier)
            except (NoteError, UnicodeDecodeError) as exc:
                raise VaultError(
                    f"latest checkpoint does not verify: {exc}", where=str(path)
                ) from exc
            break
        if latest is None:
            raise VaultError("no checkpoint found", where=str(self.root / CHECKPOINT_DIR))
        if len(lines) < latest.size:
            raise VaultError(
                f"log has {len(lines)} leaves but checkpoint {latest.size} "
                "covers more: run `kizuki vault verify`"
            )
        committed = lines[: latest.size]
        if any(ln.entry is None for ln in committed) or (
            merkle.root_hash([ln.leaf for ln in committed]) != latest.root
        ):
            raise VaultError(
                f"log no longer matches checkpoint {latest.size}: refusing to "
                "sign; run `kizuki vault verify`"
            )
        return committed, latest

    def rollback_uncommitted(self, committed: list[ManifestLine]) -> int:
        """Undo manifest lines that no checkpoint covers (an interrupted seal)."""
        lines, partial = read_manifest(self.root)
        extra = lines[len(committed) :]
        if not extra and not partial:
            return 0
        protected = {str(ln.entry.get("path")) for ln in committed if ln.entry}
        for ln in extra:
            rel = str(ln.entry.get("path", "")) if ln.entry else ""
            # Never delete a committed segment, whatever an unsigned line claims.
            if rel.startswith(f"{SEGMENT_DIR}/") and rel not in protected and ".." not in rel:
                (self.root / rel).unlink(missing_ok=True)
        truncate_manifest(self.root, len(committed))
        return len(extra)

    def _remove_orphans(self, committed: list[ManifestLine]) -> int:
        paths = {str(ln.entry.get("path")) for ln in committed if ln.entry}
        removed = 0
        for path in (self.root / SEGMENT_DIR).rglob("*"):
            if path.is_file() and path.relative_to(self.root).as_posix() not in paths:
                path.unlink()
                removed += 1
        return removed

    def commit(
        self, signer: Signer, committed: list[ManifestLine], entries: list[dict[str, Any]]
    ) -> int:
        """Append leaves and sign the checkpoint that covers them; return the new size."""
        raws = append_manifest(self.root, entries)
        leaves = [ln.leaf for ln in committed] + [merkle.leaf_hash(r) for r in raws]
        cp = Checkpoint(
            self.config.origin, len(leaves), merkle.root_hash(leaves), _time_ext(now_utc())
        )
        atomic_write(checkpoint_path(self.root, cp.size), cp.sign(signer).encode())
        return cp.size

    def seal(
        self,
        signer: Signer,
        *,
        segment_rows: int = SEGMENT_ROWS,
        buffer_rows: int = BUFFER_ROWS,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_open: int = MAX_OPEN_SEGMENTS,
    ) -> SealReport:
        """Seal every finished WAL file into segments and sign a new checkpoint.

        Events are streamed from the WAL into segment files row group by row group;
        the keyword arguments bound the rows and files held at once (memory does not
        grow with the number of events sealed).
        """
        verifier = self.check_key(signer)
        self.close()  # our own live WAL file becomes finished and sealable
        report = SealReport()
        with self.admin_lock():
            committed, latest = self.committed_log(verifier)
            report.rolled_back = self.rollback_uncommitted(committed)
            report.orphans_removed = self._remove_orphans(committed)
            sealed_wal = {
                name
                for ln in committed
                if ln.entry and ln.entry.get("kind") == "segment"
                for name in ln.entry.get("wal", [])
            }
            locked: list[tuple[Path, int]] = []
            try:
                sources: list[Path] = []
                for path in wal_files(self.root / WAL_DIR):
                    fd = try_lock(path)
                    if fd is None:
                        report.active_wal_skipped += 1
                        continue
                    locked.append((path, fd))
                    if path.name not in sealed_wal:
                        torn = recover(path)
                        if torn:
                            report.torn.append(torn)
                        sources.append(path)
                builder = _SegmentBuilder(
                    self.root,
                    latest.size,
                    [p.name for p in sources],
                    segment_rows,
                    buffer_rows,
                    row_group_rows,
                    max_open,
                )
                for path in sources:
                    for payload in read_records(path):
                        builder.add(payload)
                builder.finish()
                report.events, report.rejected = builder.events, builder.rejected
                report.segments = builder.entries
                report.checkpoint_size = latest.size
                if builder.entries:
                    report.checkpoint_size = self.commit(signer, committed, builder.entries)
                for path, _ in locked:
                    path.unlink(missing_ok=True)
                fsync_dir(self.root / WAL_DIR)
            finally:
                for _, fd in locked:
                    os.close(fd)
        return report


def _time_ext(ts: datetime) -> tuple[str, ...]:
    # An extension line (tlog-checkpoint allows opaque ones) carrying the signing time.
    return (f"kizuki-time {format_ts(ts)}",)


@dataclass(slots=True)
class _OpenSegment:
    """A segment of one (day, source) being written: its file and its pending rows."""

    writer: SegmentWriter
    buf: SegmentBuffer
    touched: int = 0


class _SegmentBuilder:
    """Streams WAL records into per-(day, source) segments with bounded memory.

    Memory is bounded three ways, none of them by the number of events sealed:
    rows pending across all groups (``buffer_rows``; the largest group is written out
    as a row group when exceeded), rows per row group (``row_group_rows``) and open
    segment files (``max_open``; the least recently used is finished first). Only one
    small manifest entry per finished segment is kept.
    """

    def __init__(
        self,
        root: Path,
        first_index: int,
        wal_names: list[str],
        segment_rows: int,
        buffer_rows: int,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_open: int = MAX_OPEN_SEGMENTS,
    ) -> None:
        self.root, self.index, self.wal_names = root, first_index, wal_names
        self.segment_rows, self.buffer_rows = segment_rows, buffer_rows
        self.row_group_rows, self.max_open = max(1, row_group_rows), max(1, max_open)
        self.open: dict[tuple[str, str], _OpenSegment] = {}
        self.buffered = self.events = self.rejected = self.tick = 0
        self.entries: list[dict[str, Any]] = []
        self.sealed_at = format_ts(now_utc())

    def add(self, payload: bytes) -> None:
        try:
            doc = orjson.loads(payload)
            doc[TS_COLUMN] = ts = canonical_ts(doc.get(TS_COLUMN))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            self._reject(payload)
            return
        key = (ts[:10], source_slug(data_type_of(doc)))
        seg = self.open.get(key)
        if seg is None:
            if len(self.open) >= self.max_open:
                self._finish(min(self.open, key=lambda k: self.open[k].touched))
            day, source = key
            tmp = self.root / SEGMENT_DIR / f"day={day}" / f"source={source}" / (
                f".sealing-{self.index:012d}-{self.tick}.parquet.tmp"
            )
            seg = self.open[key] = _OpenSegment(SegmentWriter(tmp), SegmentBuffer())
        seg.buf.add(payload, doc)
        self.tick += 1
        seg.touched = self.tick
        self.buffered += 1
        self.events += 1
        pending = len(seg.buf)
        if pending >= self.row_group_rows or seg.writer.rows + pending >= self.segment_rows:
            self._spill(seg)
            if seg.writer.rows >= self.segment_rows:
                self._finish(key)
        elif self.buffered >= self.buffer_rows:
            self._spill(max(self.open.values(), key=lambda s: len(s.buf)))

    def _reject(self, payload: bytes) -> None:
        # A CRC-valid record that is not an event: keep it aside, never drop it.
        self.rejected += 1
        torn = self.root / WAL_DIR / "torn"
        torn.mkdir(exist_ok=True)
        with (torn / "rejected.jsonl").open("ab") as fh:
            fh.write(payload + b"\n")

    def _spill(self, seg: _OpenSegment) -> None:
        self.buffered -= len(seg.buf)
        seg.writer.write(seg.buf)

    def _finish(self, key: tuple[str, str]) -> None:
        seg = self.open.pop(key)
        self._spill(seg)
        day, source = key
        rel = f"{SEGMENT_DIR}/day={day}/source={source}/{self.index:012d}.parquet"
        sha, size = seg.writer.commit(self.root / rel)
        self.entries.append(
            {
                "index": self.index,
                "kind": "segment",
                "path": rel,
                "sha256": sha,
                "bytes": size,
                "events": seg.writer.rows,
                "day": day,
                "source": source,
                "min_ts": seg.writer.min_ts,
                "max_ts": seg.writer.max_ts,
                "wal": self.wal_names,
                "sealed_at": self.sealed_at,
            }
        )
        self.index += 1

    def finish(self) -> None:
        for key in sorted(self.open):
            self._finish(key)
