"""Retention by signed record, backup generations and restore (R13)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kizuki.vault import Vault, apply_retention, backup, restore, search, verify
from kizuki.vault.manifest import VaultError, check_retention, read_manifest
from kizuki.vault.retention import list_generations, months_before

from .conftest import Sealed, make_event


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2025, 3, 31, tzinfo=UTC), 1) == datetime(2025, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2025, 1, 15, tzinfo=UTC), 24) == datetime(2023, 1, 15, tzinfo=UTC)


def test_retention_removes_whole_segments_by_a_signed_record(sealed: Sealed) -> None:
    now = datetime(2025, 4, 3, tzinfo=UTC)  # cutoff 2025-03-03: days 1 and 2 go
    dry = apply_retention(sealed.root, sealed.signer, months=1, now=now, dry_run=True)
    assert len(dry.removed) == 3 and dry.record_leaf is None
    assert len(read_manifest(sealed.root)[0]) == 5
    report = apply_retention(sealed.root, sealed.signer, months=1, now=now)
    assert report.removed == dry.removed and report.record_leaf == 5
    assert report.checkpoint_size == 6
    lines, _ = read_manifest(sealed.root)
    record = lines[5].entry
    assert record is not None and record["removes"] == [0, 1, 2]
    assert check_retention(record, sealed.signer.verifier) is None
    for rel in report.removed:
        assert not (sealed.root / rel).exists()
    verdict = verify(sealed.root, sealed.public_key, sealed.latest_checkpoint)
    assert verdict.ok, verdict.problems
    assert sum(n.kind == "retained-out" for n in verdict.notes) == 3
    assert {r["host.name"] for r in search(sealed.root)} == {"WS-02"}
    # Nothing more is due; a second run is a no-op that still verifies.
    again = apply_retention(sealed.root, sealed.signer, months=1, now=now)
    assert again.removed == [] and again.record_leaf is None
    # New events still seal after a retention record.
    with Vault(sealed.root) as vault:
        vault.append(make_event(7, day=40))
    Vault(sealed.root).seal(sealed.signer)
    assert verify(sealed.root, sealed.public_key, sealed.latest_checkpoint).ok


def test_default_retention_keeps_24_months(sealed: Sealed) -> None:
    report = apply_retention(sealed.root, sealed.signer, now=datetime(2027, 3, 1, tzinfo=UTC))
    assert report.removed == []
    report = apply_retention(sealed.root, sealed.signer, now=datetime(2027, 3, 10, tzinfo=UTC))
    assert len(report.removed) == 5


def test_backup_generations_and_restore(sealed: Sealed, tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    first = backup(sealed.root, dest, generations=2, now=datetime(2025, 5, 1, tzinfo=UTC))
    assert first.copied == 5 and first.linked == 0
    with Vault(sealed.root) as vault:
        vault.append(make_event(1, day=10))
    Vault(sealed.root).seal(sealed.signer)
    second = backup(sealed.root, dest, generations=2, now=datetime(2025, 5, 2, tzinfo=UTC))
    assert second.linked == 5 and second.copied == 1
    third = backup(sealed.root, dest, generations=2, now=datetime(2025, 5, 3, tzinfo=UTC))
    assert third.pruned == [first.generation]
    assert list_generations(dest) == [second.generation, third.generation]
    target = tmp_path / "restored"
    report = restore(dest, target, generation=second.generation.name,
                     public_key=sealed.signer.verifier)
    assert report.ok and report.leaves == 6
    assert len(search(target)) == 36
    with pytest.raises(VaultError, match="not empty"):
        restore(dest, target)


def test_backup_refuses_a_tampered_vault_and_restore_a_tampered_generation(
    sealed: Sealed, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    gen = backup(sealed.root, dest).generation
    segment = next((gen / "segments").rglob("*.parquet"))
    segment.chmod(0o644)
    segment.write_bytes(segment.read_bytes()[:-3] + b"xyz")
    with pytest.raises(VaultError, match="does not verify"):
        restore(dest, tmp_path / "r", public_key=sealed.signer.verifier)
    (sealed.root / "log" / "leaves.jsonl").write_bytes(b"")
    with pytest.raises(VaultError, match="the vault does not verify"):
        backup(sealed.root, dest)
