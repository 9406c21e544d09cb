"""``kizuki eval`` and ``kizuki coverage`` as commands (mounted here as the lead mounts them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner

from kizuki.assess.cli import coverage_command, eval_command

ROOT = Path(__file__).resolve().parents[2]
app = typer.Typer()
app.command("eval")(eval_command)
app.command("coverage")(coverage_command)

RULE = """
title: Scheduled task created
id: 00000000-0000-4000-8000-000000000001
status: test
tags: [attack.persistence, attack.t1053.005]
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4698}
  condition: sel
level: high
"""


def _set(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("T1053.005-scheduled-task-4688-4698.evtx", "T1098-user-added-to-local-admins-"
                 "4732.evtx"):
        shutil.copy(ROOT / "samples" / "windows" / name, data / name)
    (data / "MANIFEST.csv").write_text(
        "path,source,licence,unit,techniques,label_note\n"
        "T1053.005-scheduled-task-4688-4698.evtx,s@1,CC0,evtx,T1053.005,\n"
        "T1098-user-added-to-local-admins-4732.evtx,s@1,CC0,evtx,T1098,\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "task.yml").write_text(RULE)
    return data


def test_eval_writes_markdown_html_and_json(tmp_path: Path) -> None:
    data = _set(tmp_path)
    runner = CliRunner()
    for report in ("report.md", "report.html"):
        result = runner.invoke(app, [
            "eval", str(data), "--labels", str(data / "MANIFEST.csv"),
            "--rules", str(tmp_path / "rules"), "--report", str(tmp_path / report),
            "--json", str(tmp_path / "figures.json"), "--jobs", "1"])
        assert result.exit_code == 0, result.output
        assert "Technique-level detection rate: 1/2 (50.0%)" in result.output
    assert "| T1098 | no rule yet |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    figures = orjson.loads((tmp_path / "figures.json").read_bytes())
    assert figures["rate"] == 0.5


def test_eval_without_labelled_files_fails_clearly(tmp_path: Path) -> None:
    data = _set(tmp_path)
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "rules"), "--labels",
                                      str(data / "MANIFEST.csv"), "--rules",
                                      str(tmp_path / "rules")])
    assert result.exit_code == 2
    assert "no labelled file under" in result.output


def test_coverage_json_and_table(tmp_path: Path) -> None:
    _set(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["coverage", "--sources", "windows:sysmon", "--rules",
                                 str(tmp_path / "rules"), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert data["rules"] == {"total": 1, "working": 0}
    assert data["requirements"][0]["requirement"] == "windows/security"
    result = runner.invoke(app, ["coverage", "--sources", "windows:security", "--rules",
                                 str(tmp_path / "rules")])
    assert result.exit_code == 0, result.output
    assert "Rules: 1/1 can work" in result.output
    result = runner.invoke(app, ["coverage", "--rules", str(tmp_path / "rules")])
    assert result.exit_code == 2
