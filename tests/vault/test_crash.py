"""Durability under SIGKILL, in the style of rsyslog's queue tests (R13, R14).

A writer process appends numbered events with ``fsync=always`` and prints each
number only after ``append`` returned. The test kills it with SIGKILL at random
moments, many times, sometimes while the administrators seal concurrently and once
with a simulated power cut (a half-written frame). After every restart no
acknowledged number may be missing; numbers stored twice (written, killed before the
acknowledgement, written again) are reported apart; the vault verifies after sealing.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kizuki.vault import Signer, Vault, search, verify
from kizuki.vault.wal import frame, wal_files

ROUNDS = 20
WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
from kizuki.vault import Vault

root, n = sys.argv[1], int(sys.argv[2])
base = datetime(2025, 6, 1, tzinfo=UTC)
with Vault(root, fsync="always") as vault:
    while True:
        ts = (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        vault.append({"@timestamp": ts, "seq": n, "host": {"name": "crash-01"},
                      "kizuki": {"data_type": "test:crash"}})
        sys.stdout.write(f"{n}\n")
        sys.stdout.flush()
        n += 1
"""


def _stored(root: Path) -> Counter[int]:
    rows = search(root, sql="SELECT CAST(json_extract(event, '$.seq') AS BIGINT) AS seq "
                            "FROM events")
    return Counter(int(r["seq"]) for r in rows)


def test_no_acknowledged_event_is_lost_under_sigkill(tmp_path: Path) -> None:
    signer = Signer.generate("kizuki-vault-admins")
    root = tmp_path / "vault"
    Vault.create(root, signer).close()
    rng = random.Random(20250601)
    acked: set[int] = set()
    torn_reports = 0
    deadline = time.monotonic() + 120
    for rnd in range(ROUNDS):
        assert time.monotonic() < deadline, "crash test ran out of time"
        start = max(acked) + 1 if acked else 0
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(start)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the writer is up and appending
        assert first.endswith("\n"), "writer died before its first acknowledgement"
        acked.add(int(first))
        time.sleep(rng.uniform(0.0, 0.12))
        if rnd % 5 == 2:
            Vault(root).seal(signer)  # administrators seal while ingest is running
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rest = proc.stdout.read()
        proc.stdout.close()
        # A line cut by the kill was never a complete acknowledgement.
        acked.update(int(x) for x in rest.split("\n")[:-1])
        if rnd == 7:  # a power cut in the middle of a write: half a frame on disk
            with wal_files(root / "wal")[-1].open("ab") as fh:
                fh.write(frame(b'{"@timestamp":"2025-06-01T00:00:00.000000Z","seq":-1}')[:20])
        torn_reports += len(Vault(root).recover())
        stored = _stored(root)
        missing = acked - set(stored)
        assert not missing, f"round {rnd}: acknowledged but lost: {sorted(missing)[:10]}"
    assert torn_reports >= 1
    report = Vault(root).seal(signer)
    assert not wal_files(root / "wal")
    verdict = verify(root, signer.verifier)
    assert verdict.ok, verdict.problems
    stored = _stored(root)
    assert acked <= set(stored) and -1 not in stored
    duplicates = {n: c for n, c in stored.items() if c > 1}
    # Reported, not failed: at most one re-written number per kill.
    print(f"{len(acked)} acknowledged, {len(stored)} stored, duplicates: {duplicates}, "
          f"last seal: {report.events} events")
    assert len(duplicates) <= ROUNDS
