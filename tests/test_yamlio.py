"""kizuki.yamlio: the C parser reads what the pure-Python one reads (SigmaHQ as witness)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kizuki import yamlio

ROOT = Path(__file__).resolve().parents[1]
SHARED_SIGMA = ROOT.parent / "shared" / "data" / "sigma"


def _same(paths: list[Path]) -> None:
    for path in paths:
        text = path.read_text("utf-8")
        assert list(yamlio.safe_load_all(text)) == list(yaml.safe_load_all(text)), path


def test_repo_rules_and_scenarios_read_the_same() -> None:
    paths = sorted((ROOT / "rules").rglob("*.yml")) + sorted((ROOT / "scenarios").rglob("*.yml"))
    assert len(paths) > 300
    _same(paths)


def test_sigmahq_reads_the_same() -> None:
    if not SHARED_SIGMA.is_dir():
        pytest.skip(f"SigmaHQ rules not found at {SHARED_SIGMA} (../shared is beside CI's "
                    "checkout only)")
    _same(sorted(SHARED_SIGMA.rglob("*.yml")))


def test_errors_keep_their_line() -> None:
    with pytest.raises(yaml.YAMLError) as info:
        list(yamlio.safe_load_all("title: x\ndetection:\n  sel: [a, b\n"))
    mark = getattr(info.value, "problem_mark", None)
    assert mark is not None and mark.line >= 2
