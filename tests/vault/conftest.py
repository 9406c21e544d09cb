"""Shared vault fixtures: a key, events over several days, hosts and sources."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kizuki.model.event import Event, LogSource, Origin
from kizuki.vault import Signer, Vault
from kizuki.vault.manifest import list_checkpoints

BASE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_event(i: int, *, day: int = 0, host: str = "WS-01", user: str = "alice",
               code: int = 4624, kind: str = "windows:evtx:record") -> Event:
    """A small, realistic normalized event numbered ``i``."""
    return Event(
        timestamp=BASE + timedelta(days=day, seconds=i),
        data_type=kind,
        fields={"host.name": host, "user.name": user, "event.code": code,
                "event.action": "logon", "event.outcome": "success",
                "source.ip": "10.0.0.5", "event.sequence": i},
        original={"TargetUserName": user, "EventID": code},
        logsource=LogSource(product="windows", service="security"),
        origin=Origin(path="Security.evtx", offset=i),
    )


@dataclass
class Sealed:
    """A vault sealed twice, with the auditor's public key and first checkpoint copy."""

    root: Path
    signer: Signer
    public_key: Path
    first_checkpoint: Path
    latest_checkpoint: Path


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("kizuki-vault-admins")


@pytest.fixture
def sealed(tmp_path: Path, signer: Signer) -> Sealed:
    root = tmp_path / "vault"
    with Vault.create(root, signer) as vault:
        vault.append_many(make_event(i, day=i % 2) for i in range(20))
        vault.append_many(make_event(i, day=0, host="srv-db.corp.local", user="CORP\\bob",
                                     kind="syslog:linux:sshd") for i in range(5))
        vault.seal(signer)
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    first = auditor / "first.checkpoint"
    shutil.copy(list_checkpoints(root)[-1][1], first)
    with Vault(root) as vault:
        vault.append_many(make_event(100 + i, day=2 + i % 2, host="WS-02") for i in range(10))
        vault.seal(signer)
    latest = auditor / "latest.checkpoint"
    shutil.copy(list_checkpoints(root)[-1][1], latest)
    pub = auditor / "vault.pub"
    pub.write_text(signer.verifier.encode() + "\n")
    return Sealed(root, signer, pub, first, latest)


@pytest.fixture
def event_factory() -> Callable[..., Event]:
    return make_event
