"""Shared fixtures: one generated demo week (seed 7, default start) per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuki.demo import GroundTruth, generate


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("demo-seed7")
    return out, generate(out)
