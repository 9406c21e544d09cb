"""Tamper suite: every attack the issue lists is caught, named and located (R14).

Each test starts from a vault sealed twice (5 leaves, checkpoints of size 0, 3, 5)
whose auditor kept the public key and the checkpoints of size 3 and 5.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import orjson

from kizuki.vault import Signer, merkle, verify
from kizuki.vault.manifest import (
    MANIFEST,
    VaultConfig,
    checkpoint_path,
    encode_entry,
    list_checkpoints,
    read_manifest,
    sign_retention,
)
from kizuki.vault.note import Checkpoint
from kizuki.vault.segments import file_sha256

from .conftest import Sealed


def _segment(s: Sealed, index: int) -> Path:
    lines, _ = read_manifest(s.root)
    entry = lines[index].entry
    assert entry is not None
    return s.root / entry["path"]


def _writable(path: Path) -> None:
    os.chmod(path, 0o644)


def _problems(s: Sealed, checkpoint: Path | None = None) -> list[str]:
    report = verify(s.root, s.public_key, checkpoint)
    assert not report.ok
    return [str(p) for p in report.problems]


def test_untouched_vault_verifies_clean(sealed: Sealed) -> None:
    for held in (None, sealed.first_checkpoint, sealed.latest_checkpoint):
        report = verify(sealed.root, sealed.public_key, held)
        assert report.ok, report.problems
    assert any(n.kind == "consistent" for n in
               verify(sealed.root, sealed.public_key, sealed.first_checkpoint).notes)


def test_change_a_byte(sealed: Sealed) -> None:
    path = _segment(sealed, 3)
    _writable(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    problems = _problems(sealed)
    assert len(problems) == 1
    assert problems[0].startswith("[changed-segment] segments/day=2025-03-03/")
    assert "(leaf 3 (log/leaves.jsonl line 4))" in problems[0]


def test_delete_segment(sealed: Sealed) -> None:
    path = _segment(sealed, 1)
    path.unlink()
    problems = _problems(sealed)
    assert len(problems) == 1 and problems[0].startswith("[missing-segment]")
    assert path.relative_to(sealed.root).as_posix() in problems[0] and "leaf 1" in problems[0]
    assert "no signed retention record" in problems[0]


def test_reorder_segment_files(sealed: Sealed) -> None:
    a, b = _segment(sealed, 3), _segment(sealed, 4)
    for p in (a, b):
        _writable(p)
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    problems = _problems(sealed)
    assert [p.split("]")[0] for p in problems] == ["[reordered", "[reordered"]
    assert "leaf 3" in problems[0] and "holds the content of leaf 4" in problems[0]


def test_reorder_manifest_lines(sealed: Sealed) -> None:
    manifest = sealed.root / MANIFEST
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    manifest.write_bytes(b"".join(lines))
    problems = _problems(sealed, sealed.first_checkpoint)
    kinds = {p.split("]")[0][1:] for p in problems}
    assert {"reordered", "history-mismatch", "not-a-continuation"} <= kinds
    assert any("leaf 1 (log/leaves.jsonl line 2): line holds the entry of leaf 2" in p
               for p in problems)


def test_truncate_tail(sealed: Sealed) -> None:
    manifest = sealed.root / MANIFEST
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:3]))
    for i in (3, 4):
        shutil.rmtree(_segment_dir(sealed, lines[i]))
    problems = _problems(sealed)
    assert any(p.startswith("[truncated] checkpoints/000000000005.checkpoint") and
               "leaves 3..4 were removed" in p for p in problems)


def _segment_dir(s: Sealed, raw: bytes) -> Path:
    return (s.root / orjson.loads(raw)["path"]).parent


def test_truncate_tail_and_newer_checkpoints_caught_by_auditor(sealed: Sealed) -> None:
    manifest = sealed.root / MANIFEST
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:3]))
    for i in (3, 4):
        shutil.rmtree(_segment_dir(sealed, lines[i]))
    checkpoint_path(sealed.root, 5).unlink()
    # Without the auditor's checkpoint the rolled-back vault looks consistent...
    assert verify(sealed.root, sealed.public_key).ok
    # ...the auditor's earlier view exposes it.
    problems = _problems(sealed, sealed.latest_checkpoint)
    assert problems == [
        "[truncated] auditor checkpoint latest.checkpoint: covers 5 leaves but the vault "
        "holds 3: the tail was truncated or the vault rolled back"]


def test_swap_checkpoint(sealed: Sealed) -> None:
    latest, older = checkpoint_path(sealed.root, 5), checkpoint_path(sealed.root, 3)
    latest.write_text(older.read_text())
    problems = _problems(sealed)
    assert any(p.startswith("[checkpoint-swapped] checkpoints/000000000005.checkpoint: file is "
                            "named for tree size 5 but holds the checkpoint of size 3")
               for p in problems)
    assert any(p.startswith("[unsigned-leaves] leaves 3..4") for p in problems)


def test_replaced_checkpoint_content(sealed: Sealed) -> None:
    path = checkpoint_path(sealed.root, 5)
    text = path.read_text().split("\n")
    text[2] = base64.b64encode(b"\x00" * 32).decode()
    path.write_text("\n".join(text))
    problems = _problems(sealed)
    assert any(p.startswith("[checkpoint-signature] checkpoints/000000000005.checkpoint") and
               "altered after signing" in p for p in problems)


def test_forged_retention_record(sealed: Sealed) -> None:
    # The intruder deletes a segment and appends a "retention record" with their own key.
    _segment(sealed, 1).unlink()
    lines, _ = read_manifest(sealed.root)
    intruder = Signer.generate("kizuki-vault-admins")
    record = sign_retention({"index": len(lines), "kind": "retention", "removes": [1],
                             "months": 24, "cutoff": "2099-01-01T00:00:00.000000Z"}, intruder)
    with (sealed.root / MANIFEST).open("ab") as fh:
        fh.write(encode_entry(record) + b"\n")
    problems = _problems(sealed)
    kinds = [p.split("]")[0][1:] for p in problems]
    assert "forged-retention" in kinds and "missing-segment" in kinds
    assert "unsigned-leaves" in kinds
    forged = next(p for p in problems if p.startswith("[forged-retention]"))
    assert "leaf 5" in forged and "not by the auditor's key" in forged


def test_altered_genuine_retention_record(sealed: Sealed, tmp_path: Path) -> None:
    from kizuki.vault.retention import apply_retention

    from .conftest import BASE

    # A genuine record removes leaf 0 ... (day 2025-03-01 sshd, older than 1 month)
    report = apply_retention(sealed.root, sealed.signer, months=1,
                             now=BASE.replace(month=4, day=2, hour=23))
    assert report.record_leaf == 5
    assert verify(sealed.root, sealed.public_key, sealed.first_checkpoint).ok
    # ... the intruder widens it to cover leaf 4 and deletes that segment too.
    manifest = sealed.root / MANIFEST
    lines = manifest.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[5])
    record["removes"].append(4)
    lines[5] = encode_entry(record) + b"\n"
    manifest.write_bytes(b"".join(lines))
    _segment(sealed, 4).unlink()
    problems = _problems(sealed)
    assert any(p.startswith("[forged-retention] leaf 5") and "altered or forged" in p
               for p in problems)
    assert any(p.startswith("[missing-segment]") and "leaf 4" in p for p in problems)


def test_rewrite_history_and_resign_with_a_new_key(sealed: Sealed) -> None:
    # The intruder edits a sealed segment, fixes its hash in the manifest, rebuilds the
    # tree, re-signs every checkpoint with a key of the same name and swaps vault.json.
    path = _segment(sealed, 0)
    _writable(path)
    path.write_bytes(_segment(sealed, 2).read_bytes())
    manifest = sealed.root / MANIFEST
    lines = manifest.read_bytes().splitlines(keepends=True)
    entry = orjson.loads(lines[0])
    entry["sha256"] = file_sha256(path)
    lines[0] = encode_entry(entry) + b"\n"
    manifest.write_bytes(b"".join(lines))
    intruder = Signer.generate("kizuki-vault-admins")
    config = VaultConfig.load(sealed.root)
    leaves = [ln.leaf for ln in read_manifest(sealed.root)[0]]
    for size, cp_path in list_checkpoints(sealed.root):
        assert size is not None
        cp = Checkpoint(config.origin, size, merkle.root_hash(leaves[:size]))
        cp_path.write_text(cp.sign(intruder))
    config.public_key = intruder.verifier.encode()
    config.save(sealed.root)
    # With the vault's own (replaced) key everything looks fine...
    assert verify(sealed.root, intruder.verifier).ok
    # ...the auditor's key and checkpoint say exactly what happened.
    problems = _problems(sealed, sealed.first_checkpoint)
    kinds = {p.split("]")[0][1:] for p in problems}
    assert {"key-replaced", "checkpoint-signature", "not-a-continuation"} <= kinds
    sig = next(p for p in problems if p.startswith("[checkpoint-signature]"))
    assert "not signed by the expected key" in sig
    assert intruder.verifier.id.hex() in sig
    cont = next(p for p in problems if p.startswith("[not-a-continuation]"))
    assert "(size 3)" in cont


def test_unlisted_file_and_torn_manifest(sealed: Sealed) -> None:
    planted = sealed.root / "segments/day=2025-03-01/source=planted/1.parquet"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"PAR1")
    (sealed.root / MANIFEST).open("ab").write(b'{"index":5')
    kinds = {p.split("]")[0][1:] for p in _problems(sealed)}
    assert kinds == {"unlisted-file", "manifest-torn"}
