"""The vault: append-only, tamper-evident log storage kept for years (R13, R14).

Events are appended to a write-ahead log, sealed into immutable zstd Parquet
segments (per day and source), each segment entered as a leaf of an RFC 9162 Merkle
log whose checkpoints the vault administrators sign (Ed25519, C2SP signed-note).
Auditors verify with the public key alone; retention deletes only through signed
records; DuckDB searches the segments and the unsealed tail. See docs/vault.md.
"""

from kizuki.vault.note import Checkpoint, Signer, Verifier
from kizuki.vault.query import search, timeline
from kizuki.vault.retention import apply_retention, backup, restore
from kizuki.vault.store import SealReport, Vault
from kizuki.vault.verify import Finding, VerifyReport, verify
from kizuki.vault.wal import FsyncPolicy

__all__ = [
    "Checkpoint",
    "Finding",
    "FsyncPolicy",
    "SealReport",
    "Signer",
    "Vault",
    "Verifier",
    "VerifyReport",
    "apply_retention",
    "backup",
    "restore",
    "search",
    "timeline",
    "verify",
]
