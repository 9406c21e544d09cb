"""Signed notes and checkpoints against the Go sumdb/note reference example (R14)."""

from __future__ import annotations

import base64

import pytest

from kizuki.vault.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_note,
    sign_note,
    split_note,
)

VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
NOTE = TEXT + (
    "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_reference_keys_and_note_byte_for_byte() -> None:
    signer = Signer.parse(SKEY)
    assert signer.encode() == SKEY
    assert signer.verifier.encode() == VKEY
    assert Verifier.parse(VKEY) == signer.verifier
    # Ed25519 is deterministic, so our signature equals the published one.
    assert sign_note(TEXT, signer) == NOTE
    assert open_note(NOTE, Verifier.parse(VKEY)) == TEXT


def test_altered_note_and_wrong_key_are_rejected() -> None:
    v = Verifier.parse(VKEY)
    with pytest.raises(NoteError, match="altered"):
        open_note(NOTE.replace("cryptography", "cryptographY"), v)
    other = Signer.generate("PeterNeumann")
    with pytest.raises(NoteError, match="not signed by the expected key"):
        open_note(sign_note(TEXT, other), v)


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumannX+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_mangled_verifier_keys_are_rejected(bad: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(bad)


def test_checkpoint_round_trip_and_format() -> None:
    signer = Signer.generate("kizuki-vault")
    cp = Checkpoint(
        "kizuki.example/vault/abc", 5, bytes(range(32)), ("kizuki-time 2025-01-01T00:00:00Z",)
    )
    note = cp.sign(signer)
    lines = note.split("\n")
    assert lines[0] == "kizuki.example/vault/abc"
    assert lines[1] == "5"
    assert base64.b64decode(lines[2]) == bytes(range(32))
    assert lines[4] == "" and lines[5].startswith("\u2014 kizuki-vault ")
    assert Checkpoint.open(note, signer.verifier) == cp
    text, sigs = split_note(note)
    assert sigs[0].id == signer.verifier.id and text == cp.body()


@pytest.mark.parametrize(
    "body", ["o\n05\nAAAA\n", "o\n1\n", "\n1\n" + "A" * 44 + "\n", "o\nx\nAA==\n"]
)
def test_malformed_checkpoints_are_rejected(body: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse_body(body)
