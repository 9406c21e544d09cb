"""The `kizuki` command end to end, through Typer's runner and a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from typer.testing import CliRunner

from kizuki.cli import app

from .conftest import DATA, ROOT

runner = CliRunner()
EVTX = DATA / "evtx" / "T1136-admin-like-user-created-4720.evtx"
WB8 = DATA / "windows-json" / "winlogbeat8_sample.json"


def test_ingest_jsonl_with_stats(tmp_path: Path) -> None:
    out, stats = tmp_path / "events.jsonl", tmp_path / "stats.json"
    result = runner.invoke(app, ["ingest", str(EVTX), str(WB8), "-o", str(out),
                                 "--stats", str(stats)])
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().splitlines()
    doc = orjson.loads(stats.read_bytes())
    assert [(f["format"], f["records"], f["warnings"]) for f in doc["files"]] == [
        ("evtx", len(lines) - 3, 0), ("windows-json", 3, 0)]
    assert set(doc["files"][0]) >= {"path", "format", "records", "warnings"}
    last = orjson.loads(lines[-1])
    assert last["process"]["name"] == "cmd.exe"
    assert last["original"]["CommandLine"] == "cmd.exe /c whoami /all"
    assert last["kizuki"]["logsource"]["category"] == "process_creation"


def test_ingest_parquet(tmp_path: Path) -> None:
    out = tmp_path / "events.parquet"
    result = runner.invoke(app, ["ingest", str(WB8), "--format", "parquet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 3
    assert table.column("user.name").to_pylist()[0] == "tanaka.hiroshi"
    assert orjson.loads(table.column("event_json")[0].as_py())["event"]["code"] == "4625"


def test_dead_letters_name_file_and_offset(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    good = WB8.read_bytes().splitlines()
    bad.write_bytes(good[0] + b"\n{broken\n" + good[1] + b"\n")
    dl = tmp_path / "dl.jsonl"
    result = runner.invoke(app, ["ingest", str(bad), "-o", str(tmp_path / "o.jsonl"),
                                 "--dead-letter", str(dl)])
    assert result.exit_code == 0
    letters = [orjson.loads(x) for x in dl.read_bytes().splitlines()]
    assert letters == [{"source": str(bad), "offset": len(good[0]) + 1, "kind": "bad-json",
                        "message": letters[0]["message"], "raw": "{broken"}]
    assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == 2


def test_observe_then_hunt_shows_the_observation(tmp_path: Path) -> None:
    obs = tmp_path / "observations.jsonl"
    result = runner.invoke(app, [
        "observe", "三件の不審な電話が経理部に (three suspicious calls to finance)",
        "--analyst", "sato", "--user", "tanaka.hiroshi", "--tag", "phishing",
        "--severity", "medium", "--at", "2026-11-02T10:00:00", "-o", str(obs)])
    assert result.exit_code == 0, result.output
    doc = orjson.loads(obs.read_bytes())
    assert doc["@timestamp"] == "2026-11-02T01:00:00Z"  # 10:00 Asia/Tokyo
    result = runner.invoke(app, ["hunt", str(obs), str(WB8), "--events", "50"])
    assert result.exit_code == 0, result.output
    assert "analyst-observation" in result.output and "sato" not in result.output.split(
        "analyst-observation")[0][-5:]
    assert "2026-11-02 10:00:00" in result.output
    assert "三件の不審な電話" in result.output


def test_hunt_on_the_bundled_samples_in_a_subprocess() -> None:
    """The README's main job: `kizuki hunt samples/` with the built-in library."""
    proc = subprocess.run([sys.executable, "-m", "kizuki.cli", "hunt", str(ROOT / "samples")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Kizuki alerts" in proc.stdout
    assert "from 119 events" in proc.stderr


def test_hunt_finds_s7_in_the_demo_week_and_writes_every_format(tmp_path: Path) -> None:
    """Issue 3's done-when, through the command: one S7 alert in the demo week."""
    from kizuki.demo import generate

    truth = generate(tmp_path / "week")
    out = tmp_path / "alerts.jsonl"
    result = runner.invoke(app, ["hunt", str(tmp_path / "week"), "--no-builtin", "--scenarios",
                                 str(ROOT / "scenarios"), "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 0, result.output
    alerts = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    s7 = [a for a in alerts if a["kind"] == "scenario"]
    assert len(s7) == 1
    assert s7[0]["rule"]["id"] == "S7"
    assert s7[0]["entity"]["host"] == truth.s7.host.lower().split(".")[0]
    assert {"id", "kind", "rule", "severity", "score", "entity", "first_seen", "last_seen",
            "attack", "evidence"} <= set(s7[0])
    assert all({"path", "offset"} <= set(e["source"]) for e in s7[0]["evidence"])
    for fmt, name in (("csv", "a.csv"), ("html", "a.html")):
        result = runner.invoke(app, ["hunt", str(tmp_path / "week"), "--no-builtin",
                                     "--scenarios", str(ROOT / "scenarios"), "--format", fmt,
                                     "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "S7" in (tmp_path / name).read_text("utf-8")


def test_unknown_format_name_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "kizuki.cli", "ingest", str(WB8),
                           "--format-in", "nosuch"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    assert "unknown log format 'nosuch'" in proc.stderr and "evtx" in proc.stderr


def test_vault_end_to_end_through_the_main_command(tmp_path: Path) -> None:
    """init → ingest --vault → seal → verify → search → timeline, as a SOC would (R12–R14)."""
    vault, key, pub = tmp_path / "vault", tmp_path / "admin.key", tmp_path / "vault.pub"
    assert runner.invoke(app, ["vault", "init", str(vault), "--key", str(key),
                               "--public-key-out", str(pub)]).exit_code == 0
    result = runner.invoke(app, ["ingest", str(WB8), str(EVTX), "--vault", str(vault)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["vault", "seal", str(vault), "--key", str(key)]).exit_code == 0
    result = runner.invoke(app, ["vault", "verify", str(vault), "--public-key", str(pub)])
    assert result.exit_code == 0 and "OK" in result.output
    result = runner.invoke(app, ["search", "user.name=tanaka.hiroshi", "--vault", str(vault),
                                 "--jsonl"])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert len(rows) == 3
    result = runner.invoke(app, ["timeline", "--vault", str(vault), "--host", "dc01", "--jsonl"])
    assert result.exit_code == 0
    assert len([x for x in result.output.splitlines() if x.startswith("{")]) == 2
    # One changed byte in a sealed segment and the same verify fails, naming the file.
    segment = next(p for p in vault.rglob("*.parquet"))
    segment.chmod(0o644)
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    result = runner.invoke(app, ["vault", "verify", str(vault), "--public-key", str(pub)])
    assert result.exit_code == 1
    assert segment.name in result.output


def test_hunt_over_the_vault_equals_the_hunt_over_files(tmp_path: Path) -> None:
    """Issue 5: `kizuki hunt --vault` runs the same engine over stored history, with the
    same alerts as over the original files (architecture: one pipeline)."""
    from kizuki.demo import generate

    week = tmp_path / "week"
    generate(week)
    common = ["--no-builtin", "--scenarios", str(ROOT / "scenarios"), "--format", "jsonl"]
    result = runner.invoke(app, ["hunt", str(week), *common, "-o", str(tmp_path / "f.jsonl")])
    assert result.exit_code == 0, result.output
    vault, key, pub = tmp_path / "vault", tmp_path / "k", tmp_path / "k.pub"
    assert runner.invoke(app, ["vault", "init", str(vault), "--key", str(key),
                               "--public-key-out", str(pub)]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(week), "--vault", str(vault)]).exit_code == 0
    assert runner.invoke(app, ["vault", "seal", str(vault), "--key", str(key)]).exit_code == 0
    result = runner.invoke(app, ["hunt", "--vault", str(vault), "--context",
                                 str(week / "context"), *common, "-o", str(tmp_path / "v.jsonl")])
    assert result.exit_code == 0, result.output
    from_files = [orjson.loads(x) for x in (tmp_path / "f.jsonl").read_bytes().splitlines()]
    from_vault = [orjson.loads(x) for x in (tmp_path / "v.jsonl").read_bytes().splitlines()]
    assert [a["id"] for a in from_vault] == [a["id"] for a in from_files]
    assert [a["rule"]["id"] for a in from_files if a["kind"] == "scenario"] == ["S7"]
