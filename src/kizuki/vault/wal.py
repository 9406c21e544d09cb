"""The vault's write-ahead log: framed, checksummed, fsynced appends (R13, R14).

Each record is framed as ``<u32 length><u32 CRC32(payload)><payload>`` (little
endian). A writer owns one WAL file at a time, holds an exclusive ``flock`` on it
while open and never reopens an old file, so ``seal`` in another process can tell
finished files (lockable) from the live one (locked). After a crash the only damage
``fsync`` ordering allows is a torn tail: the first frame that is incomplete or fails
its CRC and everything after it. Recovery keeps those bytes in ``wal/torn/`` (never
silently destroyed), truncates the file to its last whole frame and reports it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from kizuki.errors import KizukiError

FRAME = struct.Struct("<II")
#: A frame longer than this is treated as corruption rather than a huge record.
MAX_RECORD = 64 * 1024 * 1024
#: Under ``batch``/``never`` pending bytes are written out once past this size.
WRITE_CHUNK = 1 << 20
WAL_SUFFIX = ".wal"


class WalError(KizukiError):
    """The write-ahead log cannot be written or read."""


class FsyncPolicy(StrEnum):
    """When an append is made durable.

    ``always``: every ``append`` returns after ``fsync``. ``batch``: ``append`` buffers
    and ``flush`` (or ``append_many``) returns after one ``fsync`` for the lot.
    ``never``: the OS decides (fast, loses recent events on power loss).
    """

    ALWAYS = "always"
    BATCH = "batch"
    NEVER = "never"


def fsync_dir(path: Path) -> None:
    """Make a directory entry change (create, rename, unlink) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def frame(payload: bytes) -> bytes:
    """One framed WAL record."""
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


class WalWriter:
    """Appends framed records to a fresh WAL file, rolling to a new file past a size."""

    def __init__(
        self, wal_dir: Path, policy: FsyncPolicy = FsyncPolicy.BATCH, roll_bytes: int = 64 << 20
    ) -> None:
        self.dir = wal_dir
        self.policy = FsyncPolicy(policy)
        self.roll_bytes = roll_bytes
        self._pending = bytearray()
        self._fd = -1
        self._size = 0
        self.path = self._open_new()

    def _open_new(self) -> Path:
        # The name sorts by creation time and never repeats, so files seal in order.
        path = self.dir / f"{time.time_ns():020d}-{os.getpid()}{WAL_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fsync_dir(self.dir)
        self._fd, self._size = fd, 0
        return path

    def append(self, payload: bytes) -> None:
        """Append one record; under ``always`` it is durable when this returns."""
        if len(payload) > MAX_RECORD:
            raise WalError(f"record of {len(payload)} bytes exceeds the WAL limit")
        self._pending += frame(payload)
        if self.policy is FsyncPolicy.ALWAYS:
            self.flush()
        elif len(self._pending) >= WRITE_CHUNK:
            self._write_pending()

    def append_many(self, payloads: Iterable[bytes]) -> int:
        """Append records; under ``always``/``batch`` all are durable on return."""
        n = 0
        for payload in payloads:
            if len(payload) > MAX_RECORD:
                raise WalError(f"record of {len(payload)} bytes exceeds the WAL limit")
            self._pending += frame(payload)
            n += 1
            if len(self._pending) >= WRITE_CHUNK:
                self._write_pending()
        self.flush()
        return n

    def _write_pending(self) -> None:
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        self._size += len(data)

    def flush(self) -> None:
        """Write out buffered records and, unless the policy is ``never``, fsync them."""
        self._write_pending()
        if self.policy is not FsyncPolicy.NEVER:
            os.fsync(self._fd)
        if self._size >= self.roll_bytes:
            self.roll()

    def roll(self) -> None:
        """Finish the current file (so ``seal`` may take it) and start a new one."""
        self._close_fd()
        self.path = self._open_new()

    def _close_fd(self) -> None:
        if self._fd < 0:
            return
        self._write_pending()
        if self.policy is not FsyncPolicy.NEVER:
            os.fsync(self._fd)
        os.close(self._fd)  # closing releases the flock
        self._fd = -1

    def close(self) -> None:
        """Flush and release the file; an empty file is removed."""
        path, size = self.path, self._size + len(self._pending)
        self._close_fd()
        if size == 0:
            path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class TornTail:
    """A damaged end of a WAL file, found and set aside by recovery."""

    path: Path
    offset: int
    dropped_bytes: int
    kept_records: int
    saved_to: Path

    def describe(self) -> str:
        return (
            f"{self.path.name}: torn tail at byte {self.offset} ({self.dropped_bytes} bytes "
            f"after {self.kept_records} whole records) moved to {self.saved_to}"
        )


def scan(path: Path) -> tuple[int, int]:
    """Return (records, end offset of the last whole frame) of a WAL file."""
    count, end = 0, 0
    for _, _, next_offset in _frames(path):
        count, end = count + 1, next_offset
    return count, end


def _frames(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """Yield (offset, payload, next offset) for each whole, CRC-valid frame."""
    with path.open("rb") as fh:
        offset = 0
        while True:
            head = fh.read(FRAME.size)
            if len(head) < FRAME.size:
                return
            length, crc = FRAME.unpack(head)
            if length > MAX_RECORD:
                return
            payload = fh.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            nxt = offset + FRAME.size + length
            yield offset, payload, nxt
            offset = nxt


def read_records(path: Path) -> Iterator[bytes]:
    """The payloads of a WAL file's whole frames, in order (a torn tail is skipped)."""
    for _, payload, _ in _frames(path):
        yield payload


def try_lock(path: Path) -> int | None:
    """Open and lock a WAL file unless a live writer holds it; return the fd."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def recover(path: Path) -> TornTail | None:
    """Cut a torn tail off a finished WAL file (caller holds its lock)."""
    count, end = scan(path)
    size = path.stat().st_size
    if end == size:
        return None
    torn_dir = path.parent / "torn"
    torn_dir.mkdir(exist_ok=True)
    saved = torn_dir / f"{path.stem}.{end}.bin"
    with path.open("rb") as src:
        src.seek(end)
        data = src.read()
    with saved.open("wb") as dst:
        dst.write(data)
        dst.flush()
        os.fsync(dst.fileno())
    fsync_dir(torn_dir)
    with path.open("r+b") as fh:
        fh.truncate(end)
        fh.flush()
        os.fsync(fh.fileno())
    return TornTail(path, end, size - end, count, saved)


def wal_files(wal_dir: Path) -> list[Path]:
    """Every WAL file, oldest first."""
    return sorted(p for p in wal_dir.glob(f"*{WAL_SUFFIX}") if p.is_file())
