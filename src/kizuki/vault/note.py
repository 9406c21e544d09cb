"""Signed checkpoints: C2SP signed-note and tlog-checkpoint text, Ed25519 keys (R14).

A checkpoint commits to the whole log in three lines (origin, tree size, base64 root
hash), followed by optional extension lines, a blank line and one signature line per
signer: ``— <key name> <base64(4-byte key id || Ed25519 signature)>``. The key id is
the first four bytes of ``SHA-256(name || "\\n" || 0x01 || public key)``, so a
signature names the exact key that made it. Keys use the Go ``sumdb/note`` text forms:
``<name>+<id hex>+<base64(0x01 || public key)>`` for verifiers (what an auditor holds)
and ``PRIVATE+KEY+<name>+<id hex>+<base64(0x01 || seed)>`` for signers (what the vault
administrators hold, never inside the vault folder).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from kizuki.errors import KizukiError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # an em dash and a space start every signature line


class NoteError(KizukiError):
    """A key, a signed note or a checkpoint is malformed or does not verify."""


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what}: not valid base64") from exc


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key that checks signatures (an auditor holds only this)."""

    name: str
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    def encode(self) -> str:
        """The verifier key text: ``name+idhex+base64(0x01||pub)``."""
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Read a verifier key, checking that its id matches its name and key."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("verifier key must be name+id+key")
        name, id_hex, blob = parts
        _check_name(name)
        raw = _b64decode(blob, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key")
        verifier = cls(name, raw[1:])
        if len(id_hex) != 8 or id_hex.lower() != id_hex or verifier.id.hex() != id_hex:
            raise NoteError(f"verifier key id {id_hex!r} does not match key {name!r}")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key that signs checkpoints and retention records (vault administrators)."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_name(name)
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name, seed)

    @property
    def verifier(self) -> Verifier:
        pub = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, pub.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def encode(self) -> str:
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("signer key must be PRIVATE+KEY+name+id+key")
        _, _, name, id_hex, blob = parts
        _check_name(name)
        raw = _b64decode(blob, "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 key")
        signer = cls(name, raw[1:])
        if signer.verifier.id.hex() != id_hex:
            raise NoteError(f"signer key id {id_hex!r} does not match key {name!r}")
        return signer


def write_signer(path: Path, signer: Signer) -> None:
    """Write a private key file readable by its owner only (created, never overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(signer.encode() + "\n")


def read_signer(path: Path) -> Signer:
    try:
        return Signer.parse(path.read_text())
    except OSError as exc:
        raise NoteError(f"cannot read private key: {exc}", where=str(path)) from exc
    except NoteError as exc:
        raise NoteError(exc.message, where=str(path)) from exc


def read_verifier(path: Path) -> Verifier:
    try:
        return Verifier.parse(path.read_text())
    except OSError as exc:
        raise NoteError(f"cannot read public key: {exc}", where=str(path)) from exc
    except NoteError as exc:
        raise NoteError(exc.message, where=str(path)) from exc


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    id: bytes
    signature: bytes


def sign_note(text: str, signer: Signer) -> str:
    """Sign ``text`` (which must end in a newline) into a signed note."""
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end with a newline and hold no blank line")
    sig = base64.b64encode(signer.verifier.id + signer.sign(text.encode())).decode()
    return f"{text}\n{SIG_PREFIX}{signer.name} {sig}\n"


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Separate a note's text from its signature lines (nothing is verified here)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    sigs: list[NoteSignature] = []
    for line in sig_block.splitlines():
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        parts = line[len(SIG_PREFIX) :].split(" ")
        if len(parts) != 2:
            raise NoteError(f"malformed signature line {line!r}")
        raw = _b64decode(parts[1], "signature")
        if len(raw) < 5:
            raise NoteError("signature too short")
        sigs.append(NoteSignature(parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("note has no signature")
    return text, sigs


def open_note(note: str, verifier: Verifier) -> str:
    """Return the text of a note if ``verifier`` signed it; otherwise say who did."""
    text, sigs = split_note(note)
    ours = [s for s in sigs if s.name == verifier.name and s.id == verifier.id]
    if not ours:
        seen = ", ".join(f"{s.name}+{s.id.hex()}" for s in sigs)
        raise NoteError(
            f"not signed by the expected key {verifier.name}+{verifier.id.hex()} (signed by {seen})"
        )
    if not all(verifier.verify(text.encode(), s.signature) for s in ours):
        raise NoteError(
            f"bad signature by {verifier.name}+{verifier.id.hex()}: "
            "the note was altered after signing"
        )
    return text


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed commitment to the first ``size`` leaves of the log (tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    def sign(self, signer: Signer) -> str:
        return sign_note(self.body(), signer)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("checkpoint needs origin, size and root lines")
        origin, size_s, root_s, *ext = lines[:-1]
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
            raise NoteError(f"checkpoint tree size {size_s!r} is not a decimal number")
        root = _b64decode(root_s, "checkpoint root")
        if len(root) != 32:
            raise NoteError("checkpoint root is not a SHA-256 hash")
        if any(not e for e in ext):
            raise NoteError("checkpoint has an empty extension line")
        return cls(origin, int(size_s), root, tuple(ext))

    @classmethod
    def open(cls, note: str, verifier: Verifier) -> Checkpoint:
        """Parse a signed checkpoint after checking ``verifier``'s signature on it."""
        return cls.parse_body(open_note(note, verifier))
