"""Several processes give exactly the alerts of one (issue 3 item 6–7)."""

from __future__ import annotations

from pathlib import Path

from kizuki.detect import Engine
from kizuki.detect.parallel import ParallelScan
from kizuki.rules import RuleIndex, rules_from_yaml
from kizuki.sources import Reader

from ..conftest import DATA, ROOT

RULES = """
title: Account created
id: 2b9f7f0e-0000-4000-8000-000000000010
level: medium
logsource: {product: windows, service: security}
detection: {s: {EventID: 4720}, condition: s}
---
title: Log cleared
id: 2b9f7f0e-0000-4000-8000-000000000011
level: high
logsource: {product: windows}
detection: {s: {EventID: [104, 1102]}, condition: s}
---
title: Any logon failure
id: 2b9f7f0e-0000-4000-8000-000000000012
level: low
logsource: {product: windows, service: security}
detection: {s: {EventID: 4625}, condition: s}
"""


def test_parallel_scan_equals_single_process(tmp_path: Path) -> None:
    loaded = rules_from_yaml(RULES)
    assert not loaded.errors
    index = RuleIndex(loaded.rules)
    paths = [ROOT / "samples", DATA / "windows-json", DATA / "evtx"]
    single = Engine(index).run(Reader().read(paths))
    scan = ParallelScan(index, jobs=2)
    engine = Engine(index)
    engine.feed_matched(scan.matches(paths), seen=0)
    parallel = engine.close()
    assert [a.id for a in parallel] == [a.id for a in single]
    assert len(single) > 20
    assert scan.seen == sum(f.records for f in scan.stats)
    assert {f.format for f in scan.stats} == {"evtx", "windows-json"}
