"""``kizuki eval`` over the public labelled data in ../shared/data with SigmaHQ's Windows
rules: it completes and reports a rate (no threshold here; the rate of Kizuki's own
rules is docs/detection.md's business, issue 4 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuki.assess.evaluate import evaluate
from kizuki.assess.labels import load_all
from kizuki.assess.library import load_library
from kizuki.assess.report import render_markdown, sections


def test_eval_over_shared_data_with_sigmahq_windows_rules(shared_data: Path) -> None:
    sigma = shared_data / "sigma" / "rules" / "windows"
    metadata = shared_data / "security-datasets" / "datasets" / "atomic" / "_metadata"
    if not sigma.is_dir() or not metadata.is_dir():
        pytest.skip(f"SigmaHQ rules ({sigma}) or Security-Datasets metadata ({metadata}) "
                    f"missing from the shared data")
    labels = load_all([shared_data / "MANIFEST.csv", metadata])
    lib = load_library([sigma])
    assert len(lib.rules) > 1000
    ev = evaluate([shared_data], labels, lib, jobs=2)
    assert len(ev.files) > 500
    assert ev.rate is not None and 0.0 < ev.rate <= 1.0
    # Every miss has a reason; benign files are there to be explained.
    assert all(t.reason is not None for t in ev.techniques if not t.detected)
    assert any(f.label.benign for f in ev.files)
    assert "Technique-level detection rate" in render_markdown(sections(ev))
