"""Turn paths (files, folders, archives) into one stream of normalized events.

Folders are walked in sorted order; zip, tar(.gz) and .gz archives are opened in place
and each member is sniffed on its own, so ``kizuki hunt`` accepts a folder of mixed logs
and the OTRF Security-Datasets archives as they ship. A file nobody recognises, an
unreadable archive or a parser failure is a warning for that file, never the end of a
run.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from kizuki.model import Event
from kizuki.sources import registry
from kizuki.sources.base import (
    ParseContext,
    Parser,
    ParseWarning,
    SourceFile,
    SourceSettings,
    WarningSink,
)

_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
_SKIP_NAMES = {"LICENSE", "LICENSE.md", "LICENSE.txt", "README.md", "README", ".DS_Store",
               "ground_truth.json"}
_SKIP_SUFFIXES = (".yaml", ".yml", ".md", ".py", ".pyc")


@dataclass(slots=True)
class FileStats:
    """What one input gave: its format, how many events and warnings."""

    path: str
    format: str
    records: int = 0
    warnings: int = 0
    warning_kinds: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "records": self.records,
            "warnings": self.warnings,
            "warning_kinds": dict(self.warning_kinds),
        }


@dataclass(slots=True)
class ReadStats:
    """Statistics of a whole read, per file, per format and per warning kind."""

    files: list[FileStats] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(f.warnings for f in self.files)

    def per_format(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for f in self.files:
            out[f.format] += f.records
        return out

    def per_warning_kind(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for f in self.files:
            out.update(f.warning_kinds)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files]}


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _file_source(path: Path) -> SourceFile:
    def opener() -> IO[bytes]:
        return open(path, "rb")

    return SourceFile(
        str(path), opener, real_path=str(path), mtime=_mtime(path), size=path.stat().st_size
    )


def is_skipped(name: str) -> bool:
    """Files a folder walk leaves out: licences, READMEs, rule and answer-key files."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base in _SKIP_NAMES or base.lower().endswith(_SKIP_SUFFIXES) or base.startswith(".")


def _zip_members(path: Path, outer: str, sink: WarningSink | None) -> Iterator[SourceFile]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        _report(sink, outer, "bad-archive", f"cannot open zip archive: {exc}")
        return
    with zf:
        for info in zf.infolist():
            if info.is_dir() or is_skipped(info.filename):
                continue

            def opener(info: zipfile.ZipInfo = info) -> IO[bytes]:
                # Members are read through a fresh handle each time so that sniffing
                # and parsing do not share a file position.
                return zipfile.ZipFile(path).open(info)

            mtime = datetime(*info.date_time, tzinfo=UTC)
            yield SourceFile(outer, opener, member=info.filename, mtime=mtime, size=info.file_size)


def _tar_members(path: Path, outer: str, sink: WarningSink | None) -> Iterator[SourceFile]:
    try:
        tf = tarfile.open(path)  # noqa: SIM115 (closed below)
        members = tf.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        # A truncated tar.gz still has readable members before the break: stream it.
        yield from _tar_stream(path, outer, sink, exc)
        return
    with tf:
        for info in members:
            if not info.isfile() or is_skipped(info.name):
                continue
            f = tf.extractfile(info)
            if f is None:
                continue
            data = f.read()
            mtime = datetime.fromtimestamp(info.mtime, UTC)
            yield SourceFile(outer, _bytes_opener(data), member=info.name, mtime=mtime,
                             size=len(data))


def _tar_stream(
    path: Path, outer: str, sink: WarningSink | None, first_error: BaseException
) -> Iterator[SourceFile]:
    """Salvage what a damaged tar archive still holds, member by member."""
    try:
        with tarfile.open(path, mode="r|*") as tf:
            for info in tf:
                if not info.isfile() or is_skipped(info.name):
                    continue
                f = tf.extractfile(info)
                if f is None:
                    continue
                chunks: list[bytes] = []
                try:
                    while chunk := f.read(1 << 20):
                        chunks.append(chunk)
                except (OSError, EOFError, tarfile.TarError) as exc:
                    _report(
                        sink, f"{outer}!{info.name}", "truncated-archive",
                        f"archive member is cut short ({exc}); its readable part is used",
                    )
                data = b"".join(chunks)
                yield SourceFile(
                    outer, _bytes_opener(data), member=info.name,
                    mtime=datetime.fromtimestamp(info.mtime, UTC), size=len(data),
                )
    except (tarfile.TarError, OSError, EOFError) as exc:
        _report(sink, outer, "bad-archive", f"cannot read tar archive: {exc or first_error}")


def _gzip_source(path: Path, outer: str) -> SourceFile:
    member = path.name[:-3] if path.name.endswith(".gz") else path.name

    def opener() -> IO[bytes]:
        return gzip.open(path, "rb")  # type: ignore[return-value]

    return SourceFile(outer, opener, member=member, mtime=_mtime(path))


def _bytes_opener(data: bytes) -> Callable[[], IO[bytes]]:
    return lambda: io.BytesIO(data)


def _report(sink: WarningSink | None, where: str, kind: str, message: str) -> None:
    if sink is not None:
        sink(ParseWarning(where, None, kind, message))


def iter_sources(paths: Iterable[str | os.PathLike[str]], sink: WarningSink | None = None
                 ) -> Iterator[SourceFile]:
    """Expand paths into readable sources: folders walked, archives opened."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                if not is_skipped(sub.name):
                    yield from _expand_file(sub, sink)
        elif path.is_file():
            yield from _expand_file(path, sink)
        else:
            _report(sink, str(path), "missing", "no such file or folder")


def _expand_file(path: Path, sink: WarningSink | None) -> Iterator[SourceFile]:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        _report(sink, str(path), "unreadable", f"cannot read: {exc.strerror or exc}")
        return
    name = path.name.lower()
    if magic.startswith(_ZIP_MAGIC):
        yield from _zip_members(path, str(path), sink)
    elif name.endswith((".tar.gz", ".tgz", ".tar")) or (
        magic.startswith(_GZIP_MAGIC) and _looks_like_tar(path)
    ):
        yield from _tar_members(path, str(path), sink)
    elif magic.startswith(_GZIP_MAGIC):
        yield _gzip_source(path, str(path))
    else:
        yield _file_source(path)


def _looks_like_tar(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as fh:
            block = fh.read(512)
    except (OSError, EOFError):
        return False
    return len(block) == 512 and block[257:262] == b"ustar"


class Reader:
    """Reads paths into events, keeping per-file statistics and the warnings.

    ``fmt`` forces one format for every input (``--format-in``); otherwise each input
    is sniffed. Warnings go to ``sink`` (the dead-letter writer, a console) and are
    counted in ``stats``.
    """

    def __init__(
        self,
        settings: SourceSettings | None = None,
        *,
        sink: WarningSink | None = None,
        fmt: str | None = None,
    ) -> None:
        self.settings = settings or SourceSettings()
        self.sink = sink
        self.forced: Parser | None = registry.get(fmt) if fmt else None
        self.stats = ReadStats()

    def _note(self, warning: ParseWarning) -> None:
        if self.sink is not None:
            self.sink(warning)

    def read(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[Event]:
        """All events of ``paths``, file after file."""
        for source in iter_sources(paths, self._source_warning):
            yield from self.read_source(source)

    def _source_warning(self, warning: ParseWarning) -> None:
        stats = FileStats(warning.source, "unknown", warnings=1)
        stats.warning_kinds[warning.kind] += 1
        self.stats.files.append(stats)
        self._note(warning)

    def read_source(self, source: SourceFile) -> Iterator[Event]:
        """The events of one source, sniffed unless a format was forced."""
        parser = self.forced
        if parser is None:
            try:
                head = source.head()
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                self._source_warning(
                    ParseWarning(source.display, None, "unreadable", f"cannot read: {exc}")
                )
                return
            parser, _ = registry.sniff(head, source.name)
        if parser is None:
            self._source_warning(
                ParseWarning(
                    source.display, None, "unknown-format",
                    "no parser recognises this file; name one with --format-in",
                )
            )
            return
        stats = FileStats(source.display, parser.NAME)
        self.stats.files.append(stats)
        ctx = ParseContext(source, self.settings, self._note)
        try:
            for event in parser.parse(source, ctx):
                stats.records += 1
                yield event
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            # A truncated compressed member: keep what was read, say where it stopped.
            ctx.warn(None, "truncated", f"input ends early: {exc}")
        finally:
            stats.warnings += ctx.warning_count
            stats.warning_kinds.update(ctx.warnings)
