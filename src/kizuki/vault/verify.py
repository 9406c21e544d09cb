"""The auditor's check of a vault: every byte, every leaf, every signature (R14).

An auditor holds only the administrators' public key and, ideally, checkpoints they
saw earlier. ``verify`` recomputes each segment's SHA-256, rebuilds the Merkle tree
from the manifest, checks every stored checkpoint's signature and root, checks that
the vault's history continues the auditor's checkpoint (an RFC 9162 consistency
proof), and tells a deletion by signed retention policy apart from any other
deletion. Each finding names the file, leaf index or checkpoint concerned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kizuki.vault import merkle
from kizuki.vault.manifest import (
    MANIFEST,
    SEGMENT_DIR,
    ManifestLine,
    VaultConfig,
    VaultError,
    check_retention,
    list_checkpoints,
    read_manifest,
)
from kizuki.vault.note import Checkpoint, NoteError, Verifier, read_verifier
from kizuki.vault.segments import file_sha256
from kizuki.vault.wal import read_records, wal_files


@dataclass(frozen=True, slots=True)
class Finding:
    """One verification result: a short stable ``kind``, where, and what."""

    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    """All problems (any one makes the vault fail) and informational notes."""

    problems: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    leaves: int = 0
    checkpoint_size: int | None = None
    segments_checked: int = 0
    unsealed_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, kind: str, where: str, message: str) -> None:
        self.problems.append(Finding(kind, where, message))

    def note(self, kind: str, where: str, message: str) -> None:
        self.notes.append(Finding(kind, where, message))

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


def _leaf_where(ln: ManifestLine) -> str:
    return f"leaf {ln.position} ({MANIFEST} line {ln.position + 1})"


def verify(
    root: str | os.PathLike[str],
    public_key: Verifier | str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    hash_files: bool = True,
) -> VerifyReport:
    """Verify a vault with the auditor's public key (and an earlier checkpoint file)."""
    base = Path(root)
    verifier = public_key if isinstance(public_key, Verifier) else read_verifier(Path(public_key))
    report = VerifyReport()
    try:
        config = VaultConfig.load(base)
    except VaultError as exc:
        report.problem("config", str(base), exc.message)
        return report
    if config.public_key.strip() != verifier.encode():
        report.problem(
            "key-replaced",
            "vault.json",
            f"the vault names key {config.public_key.split('+', 2)[:2]} but the "
            f"auditor's key is {verifier.name}+{verifier.id.hex()}",
        )
    lines, partial = read_manifest(base)
    report.leaves = len(lines)
    _check_manifest(lines, partial, report)
    removed_by = _check_retention(lines, verifier, report)
    if hash_files:
        _check_segments(base, lines, removed_by, report)
    roots = merkle.prefix_roots(ln.leaf for ln in lines)
    latest = _check_checkpoints(base, config, verifier, lines, roots, report)
    if checkpoint is not None:
        _check_auditor_checkpoint(Path(checkpoint), config, verifier, lines, latest, report)
    for path in wal_files(base / "wal"):
        try:
            report.unsealed_events += sum(1 for _ in read_records(path))
        except FileNotFoundError:
            continue
    if report.unsealed_events:
        report.note(
            "unsealed",
            "wal/",
            f"{report.unsealed_events} events not sealed yet (not covered by any checkpoint)",
        )
    return report


def _check_manifest(lines: list[ManifestLine], partial: bytes, report: VerifyReport) -> None:
    for ln in lines:
        if ln.entry is None:
            report.problem("manifest-corrupt", _leaf_where(ln), ln.error or "unreadable")
            continue
        claimed = ln.entry.get("index")
        if claimed != ln.position:
            report.problem(
                "reordered",
                _leaf_where(ln),
                f"line holds the entry of leaf {claimed}: leaves were reordered, "
                "inserted or removed",
            )
    if partial:
        report.problem(
            "manifest-torn",
            MANIFEST,
            f"{len(partial)} bytes after the last whole line (interrupted or forged append)",
        )


def _check_retention(
    lines: list[ManifestLine], verifier: Verifier, report: VerifyReport
) -> dict[int, int]:
    """Validate retention records; return {removed leaf: retention leaf} for valid ones."""
    removed_by: dict[int, int] = {}
    for ln in lines:
        entry = ln.entry
        if entry is None or entry.get("kind") != "retention":
            continue
        why = check_retention(entry, verifier)
        if why:
            report.problem("forged-retention", _leaf_where(ln), why)
            continue
        for idx in entry.get("removes", []):
            target = lines[idx].entry if isinstance(idx, int) and 0 <= idx < ln.position else None
            if target is None or target.get("kind") != "segment":
                report.problem(
                    "forged-retention",
                    _leaf_where(ln),
                    f"removes leaf {idx}, which is not an earlier segment",
                )
                continue
            removed_by[idx] = ln.position
    return removed_by


def _check_segments(
    base: Path, lines: list[ManifestLine], removed_by: Mapping[int, int], report: VerifyReport
) -> None:
    paths = {ln.position: str(ln.entry.get("path")) for ln in lines if ln.entry}
    by_hash = {
        str(ln.entry.get("sha256")): ln.position
        for ln in lines
        if ln.entry and ln.entry.get("kind") == "segment"
    }
    listed: set[str] = set()
    for ln in lines:
        entry: dict[str, Any] | None = ln.entry
        if entry is None or entry.get("kind") != "segment":
            continue
        rel = str(entry.get("path", ""))
        listed.add(rel)
        where = f"{rel} ({_leaf_where(ln)})"
        if not rel.startswith(f"{SEGMENT_DIR}/") or ".." in rel.split("/"):
            report.problem("manifest-corrupt", _leaf_where(ln), f"bad segment path {rel!r}")
            continue
        path = base / rel
        retention = removed_by.get(ln.position)
        if not path.exists():
            if retention is not None:
                report.note(
                    "retained-out",
                    where,
                    f"removed by policy (signed retention record, leaf {retention})",
                )
            else:
                report.problem(
                    "missing-segment",
                    where,
                    "segment file is missing and no signed retention record removed it",
                )
            continue
        if retention is not None:
            report.note(
                "retention-pending",
                where,
                f"removed by retention record leaf {retention} but still on disk",
            )
        actual = file_sha256(path)
        report.segments_checked += 1
        expected = str(entry.get("sha256"))
        if actual == expected:
            continue
        other = by_hash.get(actual)
        if other is not None and other != ln.position:
            report.problem(
                "reordered",
                where,
                f"file holds the content of leaf {other} ({paths.get(other)})",
            )
        else:
            report.problem(
                "changed-segment",
                where,
                f"content changed: sha256 {actual[:16]}… but the log says {expected[:16]}…",
            )
    for path in sorted((base / SEGMENT_DIR).rglob("*")):
        rel = path.relative_to(base).as_posix()
        if path.is_file() and rel not in listed:
            report.problem("unlisted-file", rel, "file in segments/ that no leaf of the log lists")


def _check_checkpoints(
    base: Path,
    config: VaultConfig,
    verifier: Verifier,
    lines: list[ManifestLine],
    roots: list[bytes],
    report: VerifyReport,
) -> Checkpoint | None:
    """Check every stored checkpoint; return the largest valid one."""
    latest: Checkpoint | None = None
    previous: Checkpoint | None = None
    leaves = [ln.leaf for ln in lines]
    for named, path in list_checkpoints(base):
        where = path.relative_to(base).as_posix()
        try:
            cp = Checkpoint.open(path.read_text(encoding="utf-8"), verifier)
        except (NoteError, UnicodeDecodeError) as exc:
            report.problem("checkpoint-signature", where, str(exc))
            continue
        if cp.origin != config.origin:
            report.problem(
                "checkpoint-origin",
                where,
                f"checkpoint of log {cp.origin!r}, not of this vault ({config.origin!r})",
            )
            continue
        if named != cp.size:
            report.problem(
                "checkpoint-swapped",
                where,
                f"file is named for tree size {named} but holds the checkpoint of size {cp.size}",
            )
            continue
        if cp.size > len(lines):
            report.problem(
                "truncated",
                where,
                f"checkpoint covers {cp.size} leaves but the log has {len(lines)}: "
                f"leaves {len(lines)}..{cp.size - 1} were removed (truncated tail)",
            )
            continue
        if roots[cp.size] != cp.root:
            first_bad = _first_divergence(previous, lines)
            report.problem(
                "history-mismatch",
                where,
                f"root does not match the log's first {cp.size} leaves: history "
                f"rewritten{first_bad}",
            )
            continue
        if previous is not None:
            # Redundant with the root check, but exercises the proof path auditors use.
            proof = merkle.consistency_proof(leaves, previous.size, cp.size)
            merkle.verify_consistency(previous.size, cp.size, proof, previous.root, cp.root)
        previous = latest = cp
    if latest is None:
        report.problem(
            "no-checkpoint", "checkpoints/", "no checkpoint verifies with the auditor's key"
        )
        return None
    report.checkpoint_size = latest.size
    if latest.size < len(lines):
        report.problem(
            "unsigned-leaves",
            f"leaves {latest.size}..{len(lines) - 1}",
            f"not covered by any signed checkpoint (latest valid: size {latest.size}); "
            "a seal was interrupted or leaves were appended by someone without the key",
        )
    return latest


def _first_divergence(previous: Checkpoint | None, lines: list[ManifestLine]) -> str:
    if previous is None:
        return ""
    return f" after leaf {previous.size - 1} (the last valid checkpoint covers {previous.size})"


def _check_auditor_checkpoint(
    path: Path,
    config: VaultConfig,
    verifier: Verifier,
    lines: list[ManifestLine],
    latest: Checkpoint | None,
    report: VerifyReport,
) -> None:
    where = f"auditor checkpoint {path.name}"
    try:
        held = Checkpoint.open(path.read_text(encoding="utf-8"), verifier)
    except (OSError, NoteError, UnicodeDecodeError) as exc:
        report.problem("auditor-checkpoint", where, f"cannot use it: {exc}")
        return
    if held.origin != config.origin:
        report.problem(
            "auditor-checkpoint", where, f"belongs to log {held.origin!r}, not {config.origin!r}"
        )
        return
    if held.size > len(lines):
        report.problem(
            "truncated",
            where,
            f"covers {held.size} leaves but the vault holds {len(lines)}: the tail "
            "was truncated or the vault rolled back",
        )
        return
    leaves = [ln.leaf for ln in lines]
    if latest is not None and held.size <= latest.size:
        new_size, new_root = latest.size, latest.root
    else:  # no valid signed checkpoint reaches the auditor's: compare the raw log
        new_size, new_root = len(lines), merkle.root_hash(leaves)
    try:
        proof = merkle.consistency_proof(leaves, held.size, new_size)
        merkle.verify_consistency(held.size, new_size, proof, held.root, new_root)
    except merkle.ProofError as exc:
        report.problem(
            "not-a-continuation",
            where,
            f"the vault's history (size {new_size}) is not a continuation of the "
            f"checkpoint the auditor holds (size {held.size}): {exc.message}",
        )
        return
    if latest is None or held.size > latest.size:
        report.problem(
            "rolled-back",
            where,
            f"covers {held.size} leaves but the newest valid checkpoint in the vault covers "
            f"{latest.size if latest else 0}: newer checkpoints were removed or spoiled",
        )
        return
    report.note(
        "consistent",
        where,
        f"vault at size {new_size} continues the auditor's checkpoint of size "
        f"{held.size} (consistency proof of {len(proof)} hashes verified)",
    )
