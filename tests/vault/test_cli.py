"""The vault's commands: init, seal, verify (exit codes), retention, backup, restore,
search and timeline (R12, R13, R14)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from kizuki.vault import Vault
from kizuki.vault.cli import _standalone, vault_app
from kizuki.vault.manifest import list_checkpoints

from .conftest import make_event

runner = CliRunner()
app = _standalone()


def _init(tmp_path: Path) -> tuple[Path, Path, Path]:
    vault, key, pub = tmp_path / "v", tmp_path / "keys" / "admin.key", tmp_path / "admin.pub"
    res = runner.invoke(vault_app, ["init", str(vault), "--key", str(key),
                                    "--public-key-out", str(pub)])
    assert res.exit_code == 0, res.output
    assert key.stat().st_mode & 0o077 == 0 and key.read_text().startswith("PRIVATE+KEY+")
    return vault, key, pub


def test_init_refuses_a_key_inside_the_vault(tmp_path: Path) -> None:
    res = runner.invoke(vault_app, ["init", str(tmp_path / "v"), "--key",
                                    str(tmp_path / "v" / "admin.key")])
    assert res.exit_code == 2 and "must not be stored inside" in res.output


def test_seal_verify_and_exit_codes(tmp_path: Path) -> None:
    vault, key, pub = _init(tmp_path)
    with Vault(vault) as v:
        v.append_many(make_event(i, day=i % 3) for i in range(30))
    res = runner.invoke(vault_app, ["seal", str(vault), "--key", str(key)])
    assert res.exit_code == 0 and "sealed 30 events into 3 segments" in res.output
    held = tmp_path / "held.checkpoint"
    res = runner.invoke(vault_app, ["checkpoint", str(vault)])
    held.write_text(res.output)
    res = runner.invoke(vault_app, ["verify", str(vault), "--public-key", str(pub),
                                    "--checkpoint", str(held)])
    assert res.exit_code == 0 and res.output.startswith("note [consistent]"), res.output
    segment = next((vault / "segments").rglob("*.parquet"))
    segment.chmod(0o644)
    segment.write_bytes(segment.read_bytes() + b"\0")
    res = runner.invoke(vault_app, ["verify", str(vault), "--public-key", str(pub), "-q"])
    assert res.exit_code == 1
    assert "FAIL [changed-segment] segments/day=2025-03-0" in res.output
    res = runner.invoke(vault_app, ["seal", str(vault), "--key", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "cannot read private key" in res.output


def test_retention_backup_restore_commands(tmp_path: Path) -> None:
    vault, key, pub = _init(tmp_path)
    with Vault(vault) as v:
        v.append_many(make_event(i, day=i % 3) for i in range(9))
    assert runner.invoke(vault_app, ["seal", str(vault), "--key", str(key)]).exit_code == 0
    res = runner.invoke(vault_app, ["retention", str(vault), "--key", str(key), "--months", "1",
                                    "--now", "2025-04-02T00:00:00+00:00", "--dry-run"])
    assert res.exit_code == 0 and "would remove 1 segments" in res.output
    res = runner.invoke(vault_app, ["retention", str(vault), "--key", str(key), "--months", "1",
                                    "--now", "2025-04-02T00:00:00+00:00"])
    assert res.exit_code == 0 and "retention record is leaf 3" in res.output
    backups = tmp_path / "backups"
    res = runner.invoke(vault_app, ["backup", str(vault), str(backups), "--generations", "2",
                                    "--public-key", str(pub)])
    assert res.exit_code == 0 and "verified" in res.output, res.output
    res = runner.invoke(vault_app, ["restore", str(backups), str(tmp_path / "r"),
                                    "--public-key", str(pub)])
    assert res.exit_code == 0 and "restored 4 leaves" in res.output
    res = runner.invoke(vault_app, ["verify", str(tmp_path / "r"), "--public-key", str(pub)])
    assert res.exit_code == 0


def test_search_and_timeline_commands(tmp_path: Path) -> None:
    vault, _key, _ = _init(tmp_path)
    with Vault(vault) as v:
        v.append_many(make_event(i, host="WS-01" if i % 2 else "WS-02") for i in range(6))
    res = runner.invoke(app, ["search", "host.name=WS-01", "--vault", str(vault)])
    assert res.exit_code == 0 and len(res.output.splitlines()) == 3
    assert res.output.splitlines()[0].startswith("2025-03-01T09:00:01.000000Z  WS-01  alice")
    res = runner.invoke(app, ["search", "--vault", str(vault), "--jsonl", "--from",
                              "2025-03-01T18:00:03+09:00", "--limit", "1"])
    assert orjson.loads(res.output)["event"]["sequence"] == 3
    res = runner.invoke(app, ["search", "--vault", str(vault), "--sql",
                              'SELECT count(*) AS n FROM events'])
    assert json.loads(res.output) == {"n": 6}
    res = runner.invoke(app, ["timeline", "--vault", str(vault), "--host", "ws-02.corp"])
    assert res.exit_code == 0 and len(res.output.splitlines()) == 3
    res = runner.invoke(app, ["timeline", "--vault", str(vault)])
    assert res.exit_code == 2 and "needs a host or a user" in res.output


def test_module_entry_point(tmp_path: Path) -> None:
    vault, key, pub = _init(tmp_path)
    with Vault(vault) as v:
        v.append(make_event(1))
    cmd = [sys.executable, "-m", "kizuki.vault.cli", "vault"]
    done = subprocess.run([*cmd, "seal", str(vault), "--key", str(key)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*cmd, "verify", str(vault), "--public-key", str(pub)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("OK: 1 leaves")
    list_checkpoints(vault)[-1][1].write_text("garbage\n")
    done = subprocess.run([*cmd, "verify", str(vault), "--public-key", str(pub)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "[checkpoint-signature]" in done.stderr
