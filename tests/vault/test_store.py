"""Write path, seal, search and timelines of the vault (R12, R13, R14)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kizuki.vault import FsyncPolicy, Signer, Vault, search, timeline, verify
from kizuki.vault.manifest import MANIFEST, VaultError, read_manifest
from kizuki.vault.query import QueryError, parse_query
from kizuki.vault.segments import SegmentError
from kizuki.vault.wal import WalWriter, frame, read_records, recover, scan, wal_files

from .conftest import BASE, Sealed, make_event


def test_seal_writes_partitioned_zstd_segments_and_a_checkpoint(sealed: Sealed) -> None:
    lines, partial = read_manifest(sealed.root)
    assert partial == b"" and len(lines) == 5
    entries = [ln.entry for ln in lines if ln.entry]
    assert [e["index"] for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0]["path"] == (
        "segments/day=2025-03-01/source=syslog-linux-sshd/000000000000.parquet")
    assert sum(e["events"] for e in entries) == 35
    meta = pq.ParquetFile(sealed.root / entries[1]["path"]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    table = pq.read_table(sealed.root / entries[1]["path"])
    assert table.column_names == ["@timestamp", "host.name", "user.name", "source.ip",
                                  "destination.ip", "event.code", "event.action",
                                  "event.outcome", "data_type", "event"]
    assert table.num_rows == 10
    assert not wal_files(sealed.root / "wal")  # sealed WAL files are gone
    assert os.stat(sealed.root / entries[1]["path"]).st_mode & 0o222 == 0  # read-only
    report = verify(sealed.root, sealed.public_key, sealed.first_checkpoint)
    assert report.ok, report.problems
    assert report.checkpoint_size == 5 and report.segments_checked == 5


def test_search_filters_time_range_and_unsealed_tail(sealed: Sealed) -> None:
    with Vault(sealed.root) as vault:
        vault.append(make_event(500, day=0, host="WS-09"))
        vault.flush()
        day0 = search(sealed.root, BASE, BASE + timedelta(days=1))
        assert len(day0) == 10 + 5 + 1  # windows + sshd + the unsealed event
        times = [r["@timestamp"] for r in day0]
        assert times == sorted(times)
        hits = search(sealed.root, BASE, BASE + timedelta(days=1), "host.name=WS-09")
        assert [r["event"]["event"]["sequence"] for r in hits] == [500]
    both = search(sealed.root, filters={"host.name": "WS-01", "event.code": "4624"})
    assert len(both) == 20
    assert search(sealed.root, filters="user.name=CORP\\\\bob event.outcome=success")
    assert len(search(sealed.root, filters="host.name=ws-0* host.name!=WS-02")) == 21
    assert len(search(sealed.root, filters="original.TargetUserName=alice")) == 31
    rows = search(sealed.root, sql='SELECT "host.name" AS h, count(*) AS n FROM events '
                  'GROUP BY 1 ORDER BY 1')
    assert rows == [{"h": "WS-01", "n": 20}, {"h": "WS-02", "n": 10}, {"h": "WS-09", "n": 1},
                    {"h": "srv-db.corp.local", "n": 5}]
    with pytest.raises(QueryError):
        search(sealed.root, sql="SELECT nope FROM events")


def test_query_syntax() -> None:
    terms = parse_query('host.name=WS-01 user.name!=bob message="a b"')
    assert [(t.field, t.value, t.negate) for t in terms] == [
        ("host.name", "WS-01", False), ("user.name", "bob", True), ("message", "a b", False)]
    with pytest.raises(QueryError):
        parse_query("justaword")


def test_timeline_matches_entity_spellings(sealed: Sealed) -> None:
    rows = timeline(sealed.root, host="SRV-DB")
    assert len(rows) == 5 and all(r["host.name"] == "srv-db.corp.local" for r in rows)
    assert len(timeline(sealed.root, user="bob@corp.local")) == 5
    assert len(timeline(sealed.root, user="bob")) == 5
    window = timeline(sealed.root, host="ws-01.corp.local", start=BASE + timedelta(days=1))
    assert len(window) == 10
    assert [r["@timestamp"] for r in window] == sorted(r["@timestamp"] for r in window)
    with pytest.raises(QueryError):
        timeline(sealed.root)


def test_seal_refuses_a_key_that_is_not_the_vaults(sealed: Sealed) -> None:
    with pytest.raises(VaultError, match="not this vault's key"):
        Vault(sealed.root).seal(Signer.generate("kizuki-vault-admins"))


def test_seal_refuses_to_sign_over_a_changed_log(sealed: Sealed) -> None:
    manifest = sealed.root / MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b'"events":10', b'"events":11', 1))
    with pytest.raises(VaultError, match="refusing to sign"):
        Vault(sealed.root).seal(sealed.signer)


def test_interrupted_seal_is_rolled_back_and_redone(sealed: Sealed) -> None:
    with Vault(sealed.root) as vault:
        vault.append_many(make_event(900 + i, day=5) for i in range(3))
    # Simulate a crash after the manifest append but before the checkpoint.
    (sealed.root / MANIFEST).open("ab").write(b'{"index":5,"kind":"segment","path":"x"}\n{"ind')
    report = Vault(sealed.root).seal(sealed.signer)
    assert report.rolled_back == 1 and report.events == 3 and report.checkpoint_size == 6
    assert verify(sealed.root, sealed.public_key, sealed.first_checkpoint).ok


def test_naive_or_missing_timestamps_are_refused(tmp_path: Path, signer: Signer) -> None:
    with Vault.create(tmp_path / "v", signer) as vault:
        with pytest.raises(SegmentError):
            vault.append({"@timestamp": "2025-01-01T00:00:00", "message": "naive"})
        with pytest.raises(SegmentError):
            vault.append({"message": "no time"})
        vault.append({"@timestamp": "2025-01-01T09:00:00+09:00", "message": "tokyo"})
        vault.flush()
    rows = search(tmp_path / "v")
    assert rows[0]["@timestamp"] == datetime(2025, 1, 1, tzinfo=UTC)


def test_create_refuses_a_non_empty_folder(tmp_path: Path, signer: Signer) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "x").write_text("x")
    with pytest.raises(VaultError):
        Vault.create(tmp_path / "v", signer)


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_wal_round_trip_every_policy(tmp_path: Path, policy: FsyncPolicy) -> None:
    writer = WalWriter(tmp_path, policy, roll_bytes=200)
    for i in range(50):
        writer.append(f"record {i}".encode())
    writer.append_many(f"batch {i}".encode() for i in range(5))
    writer.close()
    files = wal_files(tmp_path)
    # Files roll past 200 bytes once written out (every append under "always").
    assert len(files) > 1 if policy is FsyncPolicy.ALWAYS else len(files) >= 1
    got = [r.decode() for p in files for r in read_records(p)]
    assert got == [f"record {i}" for i in range(50)] + [f"batch {i}" for i in range(5)]


def test_torn_tail_is_cut_and_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000001-1.wal"
    whole = frame(b"one") + frame(b"two")
    path.write_bytes(whole + frame(b"three")[:-2])
    torn = recover(path)
    assert torn is not None and torn.offset == len(whole) and torn.kept_records == 2
    assert torn.saved_to.read_bytes() == frame(b"three")[:-2]
    assert path.read_bytes() == whole and scan(path) == (2, len(whole))
    assert "torn tail at byte" in torn.describe()
    corrupt = bytearray(frame(b"four"))
    corrupt[-1] ^= 1
    path.write_bytes(whole + bytes(corrupt) + frame(b"five"))
    torn = recover(path)
    assert torn is not None and [*read_records(path)] == [b"one", b"two"]
    assert recover(path) is None
