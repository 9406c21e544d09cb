"""Retention and backup generations: deletion by signed policy only, verified copies (R13).

Retention removes whole segments, never rows: the administrators sign a retention
record naming the leaves it removes, append it to the log as a leaf of its own,
sign the checkpoint that covers it, and only then delete the files. The removed
segments' leaves stay in the tree, so the log still verifies, and ``verify`` can
tell a deletion by policy (a signed record names it) from an intruder's.

Backups are whole-vault generations in another folder, each verified after it is
written; ``restore`` verifies the generation before and the restored vault after.
"""

from __future__ import annotations

import calendar
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kizuki.model.event import format_ts
from kizuki.vault.manifest import (
    CHECKPOINT_DIR,
    CONFIG,
    LOG_DIR,
    MANIFEST,
    SEGMENT_DIR,
    WAL_DIR,
    VaultConfig,
    VaultError,
    check_retention,
    read_manifest,
    sign_retention,
)
from kizuki.vault.note import Signer, Verifier
from kizuki.vault.store import Vault, now_utc
from kizuki.vault.verify import VerifyReport, verify
from kizuki.vault.wal import fsync_dir

GENERATION_PREFIX = "gen-"


def months_before(ts: datetime, months: int) -> datetime:
    """``ts`` moved back by calendar months (day clamped to the month's length)."""
    total = ts.year * 12 + (ts.month - 1) - months
    year, month = divmod(total, 12)
    day = min(ts.day, calendar.monthrange(year, month + 1)[1])
    return ts.replace(year=year, month=month + 1, day=day)


@dataclass(slots=True)
class RetentionReport:
    """What a retention run removed (or would remove, on a dry run)."""

    cutoff: datetime
    removed: list[str] = field(default_factory=list)
    record_leaf: int | None = None
    checkpoint_size: int | None = None
    pending_deleted: int = 0


def apply_retention(
    root: str | os.PathLike[str],
    signer: Signer,
    *,
    months: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Remove segments whose newest event is older than ``months`` (default: the vault's)."""
    vault = Vault(root)
    verifier = vault.check_key(signer)
    keep = vault.config.retention_months if months is None else months
    cutoff = months_before((now or now_utc()).astimezone(UTC), keep)
    report = RetentionReport(cutoff)
    with vault.admin_lock():
        committed, _ = vault.committed_log(verifier)
        if not dry_run:
            vault.rollback_uncommitted(committed)
        removed: set[int] = set()
        for ln in committed:
            entry = ln.entry
            if entry and entry.get("kind") == "retention" and not check_retention(entry, verifier):
                removed.update(entry.get("removes", []))
        due = [
            ln.entry
            for ln in committed
            if ln.entry
            and ln.entry.get("kind") == "segment"
            and ln.position not in removed
            and str(ln.entry.get("max_ts", "")) < format_ts(cutoff)
        ]
        report.removed = [str(e["path"]) for e in due]
        if dry_run:
            return report
        if due:
            record = {
                "index": len(committed),
                "kind": "retention",
                "removes": [e["index"] for e in due],
                "paths": [e["path"] for e in due],
                "sha256": [e["sha256"] for e in due],
                "months": keep,
                "cutoff": format_ts(cutoff),
                "time": format_ts(now_utc()),
            }
            report.record_leaf = len(committed)
            report.checkpoint_size = vault.commit(
                signer, committed, [sign_retention(record, signer)]
            )
        # Files go only after the signed record is durable; a crash in between leaves
        # "retention pending" files that the next run deletes.
        pending = {
            str(ln.entry.get("path")) for ln in committed if ln.entry and ln.position in removed
        }
        for rel in sorted(pending | set(report.removed)):
            path = vault.root / rel
            if path.exists():
                path.unlink()
                fsync_dir(path.parent)
                report.pending_deleted += rel in pending
                _prune_empty(path.parent, vault.root / SEGMENT_DIR)
    return report


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def list_generations(dest: str | os.PathLike[str]) -> list[Path]:
    """Backup generations in ``dest``, oldest first (their names sort by time)."""
    base = Path(dest)
    if not base.is_dir():
        return []
    return sorted(
        p
        for p in base.iterdir()
        if p.is_dir() and p.name.startswith(GENERATION_PREFIX) and not p.name.endswith(".partial")
    )


@dataclass(slots=True)
class BackupReport:
    """One backup run: the generation written, what it holds, what was pruned."""

    generation: Path
    tree_size: int
    copied: int = 0
    linked: int = 0
    pruned: list[Path] = field(default_factory=list)


def _require_clean(root: Path, verifier: Verifier, what: str) -> VerifyReport:
    report = verify(root, verifier)
    if not report.ok:
        raise VaultError(f"{what} does not verify: {report.problems[0]}", where=str(root))
    return report


def backup(
    root: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    generations: int = 3,
    public_key: Verifier | None = None,
    now: datetime | None = None,
) -> BackupReport:
    """Write a verified generation of the vault to ``dest``; keep the newest ``generations``."""
    if generations < 1:
        raise VaultError("keep at least one backup generation")
    src, base = Path(root), Path(dest)
    verifier = public_key or VaultConfig.load(src).verifier
    before = _require_clean(src, verifier, "the vault")
    stamp = (now or now_utc()).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{GENERATION_PREFIX}{stamp}-{before.leaves:012d}"
    previous = list_generations(base)
    tmp = base / f"{name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    report = BackupReport(base / name, before.leaves)
    for sub in (LOG_DIR, CHECKPOINT_DIR, WAL_DIR, SEGMENT_DIR):
        (tmp / sub).mkdir()
    shutil.copy2(src / CONFIG, tmp / CONFIG)
    shutil.copy2(src / MANIFEST, tmp / MANIFEST)
    for path in (src / CHECKPOINT_DIR).iterdir():
        shutil.copy2(path, tmp / CHECKPOINT_DIR / path.name)
    for path in (src / WAL_DIR).glob("*.wal"):
        shutil.copy2(path, tmp / WAL_DIR / path.name)
    lines, _ = read_manifest(src)
    last = previous[-1] if previous else None
    for ln in lines:
        if not ln.entry or ln.entry.get("kind") != "segment":
            continue
        rel = str(ln.entry["path"])
        if not (src / rel).exists():
            continue  # removed by retention (verified above)
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        old = last / rel if last else None
        # Segments are immutable and named by leaf index: an unchanged one is shared
        # with the previous generation instead of copied again.
        if old is not None and old.exists() and old.stat().st_size == ln.entry.get("bytes"):
            os.link(old, target)
            report.linked += 1
        else:
            shutil.copy2(src / rel, target)
            report.copied += 1
    _require_clean(tmp, verifier, "the new backup generation")
    tmp.rename(report.generation)
    fsync_dir(base)
    for old_gen in list_generations(base)[:-generations]:
        shutil.rmtree(old_gen)
        report.pruned.append(old_gen)
    return report


def restore(
    backup_dir: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    generation: str | None = None,
    public_key: Verifier | None = None,
) -> VerifyReport:
    """Bring a verified generation back into an empty ``target``; verify the result."""
    gens = list_generations(backup_dir)
    if not gens:
        raise VaultError("no backup generation found", where=str(backup_dir))
    if generation is None:
        chosen = gens[-1]
    else:
        matches = [g for g in gens if g.name == generation]
        if not matches:
            raise VaultError(f"no generation named {generation!r}", where=str(backup_dir))
        chosen = matches[0]
    dest = Path(target)
    if dest.exists() and any(dest.iterdir()):
        raise VaultError("restore target exists and is not empty", where=str(dest))
    verifier = public_key or VaultConfig.load(chosen).verifier
    _require_clean(chosen, verifier, f"backup generation {chosen.name}")
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(chosen, tmp)
    if dest.exists():
        dest.rmdir()
    tmp.rename(dest)
    return _require_clean(dest, verifier, "the restored vault")
