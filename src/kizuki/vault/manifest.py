"""The vault's on-disk layout: configuration, the append-only leaf manifest, checkpoints.

::

    DIR/vault.json                      origin, public key, fsync policy, retention
    DIR/wal/*.wal                       unsealed events (ingest role writes here only)
    DIR/segments/day=D/source=S/N.parquet   sealed, read-only segments
    DIR/log/leaves.jsonl                one JSON line per Merkle leaf, append-only
    DIR/checkpoints/<size>.checkpoint   every signed checkpoint, named by tree size

The leaf data of the Merkle log is the exact bytes of one manifest line, so the log
commits to each segment's path, SHA-256, event count and time range, and to every
retention record, in order.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kizuki.errors import KizukiError
from kizuki.vault.merkle import leaf_hash
from kizuki.vault.note import Signer, Verifier
from kizuki.vault.wal import FsyncPolicy, fsync_dir

CONFIG = "vault.json"
WAL_DIR = "wal"
SEGMENT_DIR = "segments"
LOG_DIR = "log"
MANIFEST = f"{LOG_DIR}/leaves.jsonl"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_SUFFIX = ".checkpoint"
DEFAULT_RETENTION_MONTHS = 24
#: Domain separation: a retention signature can never pass for a checkpoint signature.
RETENTION_CONTEXT = b"kizuki-vault retention record v1\n"


class VaultError(KizukiError):
    """The vault is missing, malformed, or an operation on it is refused."""


@dataclass(slots=True)
class VaultConfig:
    """What ``vault.json`` holds. The public key here is informational: an auditor
    verifies with the key file they were given, never with this copy."""

    origin: str
    public_key: str
    fsync: FsyncPolicy = FsyncPolicy.BATCH
    retention_months: int = DEFAULT_RETENTION_MONTHS
    format: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> VaultConfig:
        path = root / CONFIG
        try:
            doc = orjson.loads(path.read_bytes())
        except FileNotFoundError as exc:
            raise VaultError(
                "not a vault (no vault.json); run `kizuki vault init`", where=str(root)
            ) from exc
        except orjson.JSONDecodeError as exc:
            raise VaultError(f"vault.json is not JSON: {exc}", where=str(path)) from exc
        try:
            return cls(
                origin=str(doc["origin"]),
                public_key=str(doc["public_key"]),
                fsync=FsyncPolicy(doc.get("fsync", "batch")),
                retention_months=int(doc.get("retention_months", DEFAULT_RETENTION_MONTHS)),
                format=int(doc.get("format", 1)),
            )
        except (KeyError, ValueError) as exc:
            raise VaultError(f"vault.json is incomplete: {exc}", where=str(path)) from exc

    def save(self, root: Path) -> None:
        doc = {
            "format": self.format,
            "origin": self.origin,
            "public_key": self.public_key,
            "fsync": self.fsync.value,
            "retention_months": self.retention_months,
        }
        atomic_write(root / CONFIG, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")

    @property
    def verifier(self) -> Verifier:
        return Verifier.parse(self.public_key)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file so that it is either absent, old, or completely new after a crash."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def encode_entry(entry: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a manifest entry (sorted keys, no spaces)."""
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class ManifestLine:
    """One line of the manifest: its raw bytes (the leaf data) and its parsed entry."""

    position: int
    raw: bytes
    entry: dict[str, Any] | None
    error: str | None = None

    @property
    def leaf(self) -> bytes:
        return leaf_hash(self.raw)


def read_manifest(root: Path) -> tuple[list[ManifestLine], bytes]:
    """Every whole line of the manifest, and any partial last line (a torn append)."""
    path = root / MANIFEST
    data = path.read_bytes() if path.exists() else b""
    body, _, partial = data.rpartition(b"\n")
    lines: list[ManifestLine] = []
    for pos, raw in enumerate(body.split(b"\n") if body else []):
        try:
            entry = orjson.loads(raw)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
            lines.append(ManifestLine(pos, raw, entry))
        except (orjson.JSONDecodeError, ValueError) as exc:
            lines.append(ManifestLine(pos, raw, None, f"not a JSON object ({exc})"))
    return lines, partial


def append_manifest(root: Path, entries: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Append entries as lines in one durable write; return their raw bytes."""
    raws = [encode_entry(e) for e in entries]
    if not raws:
        return raws
    fd = os.open(root / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"".join(r + b"\n" for r in raws))
        os.fsync(fd)
    finally:
        os.close(fd)
    return raws


def truncate_manifest(root: Path, keep: int) -> None:
    """Drop lines after the first ``keep`` (only unsigned lines, by ``seal`` recovery)."""
    path = root / MANIFEST
    data = path.read_bytes()
    end = 0
    for _ in range(keep):
        end = data.index(b"\n", end) + 1
    with path.open("r+b") as fh:
        fh.truncate(end)
        os.fsync(fh.fileno())


def checkpoint_path(root: Path, size: int) -> Path:
    return root / CHECKPOINT_DIR / f"{size:012d}{CHECKPOINT_SUFFIX}"


def list_checkpoints(root: Path) -> list[tuple[int | None, Path]]:
    """Every checkpoint file with the tree size its name claims, smallest first."""
    out: list[tuple[int | None, Path]] = []
    for path in (root / CHECKPOINT_DIR).glob(f"*{CHECKPOINT_SUFFIX}"):
        stem = path.name[: -len(CHECKPOINT_SUFFIX)]
        out.append((int(stem) if stem.isdigit() else None, path))
    return sorted(out, key=lambda item: (item[0] is None, item[0] or 0, item[1].name))


def retention_message(entry: Mapping[str, Any]) -> bytes:
    """The bytes a retention record's signature covers (the entry without ``sig``)."""
    return RETENTION_CONTEXT + encode_entry({k: v for k, v in entry.items() if k != "sig"})


def sign_retention(entry: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """Return ``entry`` with the administrators' signature and key id added."""
    body = {k: v for k, v in entry.items() if k != "sig"}
    body["key"] = f"{signer.name}+{signer.verifier.id.hex()}"
    body["sig"] = base64.b64encode(signer.sign(retention_message(body))).decode()
    return body


def check_retention(entry: Mapping[str, Any], verifier: Verifier) -> str | None:
    """Why a retention record's own signature is not valid, or None if it is."""
    sig = entry.get("sig")
    if not isinstance(sig, str):
        return "retention record has no signature"
    if entry.get("key") != f"{verifier.name}+{verifier.id.hex()}":
        return f"retention record signed by {entry.get('key')!r}, not by the auditor's key"
    try:
        raw = base64.b64decode(sig, validate=True)
    except ValueError:
        return "retention record signature is not base64"
    if not verifier.verify(retention_message(entry), raw):
        return "retention record signature does not verify (record altered or forged)"
    return None
