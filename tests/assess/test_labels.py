"""Labels for ``kizuki eval``: MANIFEST.csv and Security-Datasets metadata (issue 4 item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuki.assess.labels import (
    Label,
    load_all,
    load_labels,
    normalize_technique,
    technique_covers,
)
from kizuki.errors import ConfigError

DATA = Path(__file__).parent / "data"
META = DATA / "sd" / "datasets" / "atomic" / "_metadata"


def test_manifest_paths_are_relative_to_the_csv_folder() -> None:
    labels = load_labels(DATA / "MANIFEST.csv")
    assert len(labels) == 5
    two = labels.get(DATA / "set-a" / "two.evtx")
    assert two == Label((DATA / "set-a" / "two.evtx").resolve(), "set-a/two.evtx",
                        frozenset({"T1003.001", "T1059"}), ("T1003.001",), "example/set-a@abc123")
    assert two.group == "example/set-a"
    tactic = labels.get(DATA / "set-a" / "tactic-only.evtx")
    assert tactic is not None and tactic.techniques == frozenset()
    assert tactic.notes == ("tactic:Credential Access",) and not tactic.benign
    benign = labels.get(DATA / "benign" / "system.evtx")
    assert benign is not None and benign.benign


def test_security_datasets_metadata_folder_maps_links_to_local_archives() -> None:
    labels = load_labels(META)
    host = labels.get(DATA / "sd" / "datasets" / "atomic" / "windows" / "host" / "cmd_thing.zip")
    assert host is not None
    assert host.techniques == frozenset({"T1562.002", "T1112"})
    assert host.name == "datasets/atomic/windows/host/cmd_thing.zip"
    assert host.notes == ("sd:SDWIN-1",)
    # The network archive is not on disk: labelled where a checkout would hold it.
    net = labels.get(DATA / "sd" / "datasets" / "atomic" / "windows" / "network" /
                     "cmd_thing.zip")
    assert net is not None and not net.path.exists()
    # An unquoted 001 is read by YAML as the integer 1.
    other = labels.get(DATA / "sd" / "datasets" / "atomic" / "windows" / "host" / "other.zip")
    assert other is not None and other.techniques == frozenset({"T1003.001"})
    assert len(labels) == 3


def test_one_metadata_file_and_merging_sources() -> None:
    one = load_labels(META / "SDWIN-1.yaml")
    assert len(one) == 2
    merged = load_all([DATA / "MANIFEST.csv", META])
    host = merged.get(DATA / "sd" / "datasets" / "atomic" / "windows" / "host" / "cmd_thing.zip")
    assert host is not None
    # Techniques unite; the first source's name and set are kept.
    assert host.techniques == frozenset({"T1562.002", "T1112"})
    assert host.name == "sd/datasets/atomic/windows/host/cmd_thing.zip"
    assert host.group == "OTRF/Security-Datasets"
    assert len(merged) == 7
    assert [lb.name for lb in merged.under([DATA / "set-a"])] == [
        "set-a/T1053.005-task.evtx", "set-a/two.evtx", "set-a/tactic-only.evtx"]


def test_bad_labels_say_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_labels(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,technique\nx,T1000\n")
    with pytest.raises(ConfigError, match="lacks column"):
        load_labels(bad)


def test_technique_matching() -> None:
    assert normalize_technique(" t1003.001 ") == "T1003.001"
    assert normalize_technique("TA0005") is None
    assert technique_covers("T1003.001", "T1003.001")
    assert technique_covers("T1003.001", "T1003")  # a parent alert counts
    assert technique_covers("T1003", "T1003.001")  # a sub-technique alert counts
    assert not technique_covers("T1003.001", "T1003.002")  # a sibling does not
    assert not technique_covers("T1003", "T1030")
