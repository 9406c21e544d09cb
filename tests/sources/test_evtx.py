"""EVTX through the real `evtx` parser: counts, one full event, broken files (R5–R7)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import evtx
import pytest

from kizuki.model import LogSource
from kizuki.sources import registry
from kizuki.sources.base import ParseWarning

from ..conftest import DATA, read_all

USER_CREATED = DATA / "evtx" / "T1136-admin-like-user-created-4720.evtx"
LOG_CLEARED = DATA / "evtx" / "T1070.001-event-log-cleared-104-1102.evtx"


def library_count(path: Path) -> tuple[int, int]:
    """Records and broken records as the evtx library itself reports them."""
    good = broken = 0
    it = evtx.PyEvtxParser(str(path)).records_json()
    while True:
        try:
            next(it)
        except StopIteration:
            return good, broken
        except RuntimeError:
            broken += 1
        else:
            good += 1


def test_counts_match_the_library() -> None:
    for path in (USER_CREATED, LOG_CLEARED):
        events, reader, warnings = read_all(path)
        good, broken = library_count(path)
        assert len(events) == good > 0
        assert len(warnings) == broken == 0
        assert reader.stats.files[0].format == "evtx"


def test_one_full_normalized_event() -> None:
    events, _, _ = read_all(USER_CREATED)
    created = [e for e in events if e.fields["event.code"] == "4720"]
    assert len(created) == 1
    e = created[0]
    assert e.timestamp.tzinfo is not None and e.timestamp.utcoffset().total_seconds() == 0
    assert e.data_type == "windows:evtx:record"
    assert e.logsource == LogSource("windows", "security", None)
    assert e.origin.path == str(USER_CREATED) and isinstance(e.origin.offset, int)
    assert e.original["EventID"] == 4720
    assert e.original["Channel"] == "Security"
    assert e.original["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    # ECS: the actor is the subject, the new account the target (ECS user.target).
    assert e.fields["event.action"] == "user-account-created"
    assert e.fields["event.category"] == ["iam"]
    assert e.fields["event.type"] == ["user", "creation"]
    assert e.fields["user.name"] == e.original["SubjectUserName"]
    assert e.fields["user.target.name"] == e.original["TargetUserName"]
    assert e.fields["host.name"] == e.original["Computer"]
    nested = e.to_dict()
    assert nested["user"]["target"]["name"] == e.original["TargetUserName"]
    assert nested["original"]["TargetUserName"] == e.original["TargetUserName"]
    assert nested["kizuki"]["logsource"] == {"product": "windows", "service": "security"}


def test_log_cleared_by_provider_whatever_the_channel() -> None:
    events, _, _ = read_all(LOG_CLEARED)
    actions = {e.fields.get("event.action") for e in events}
    assert {"event-log-cleared", "audit-log-cleared"} <= actions
    cleared = next(e for e in events if e.fields.get("event.action") == "audit-log-cleared")
    assert cleared.timestamp == datetime(2021, 10, 25, 18, 9, 51, cleared.timestamp.microsecond,
                                         tzinfo=UTC)


def test_corrupted_chunk_gives_warnings_and_keeps_the_rest(tmp_path: Path) -> None:
    broken = tmp_path / "broken.evtx"
    shutil.copy(USER_CREATED, broken)
    data = bytearray(broken.read_bytes())
    # Overwrite the first chunk's magic ("ElfChnk\0" at 4096): the library rejects that
    # chunk; Kizuki must report it and carry on.
    assert data[4096:4104] == b"ElfChnk\x00"
    data[4096:4104] = b"\x00" * 8
    broken.write_bytes(bytes(data))
    good, lib_broken = library_count(broken)
    events, reader, warnings = read_all(broken)
    assert len(events) == good
    assert lib_broken >= 1 and len(warnings) == lib_broken
    w = warnings[0]
    assert isinstance(w, ParseWarning) and w.kind.startswith("evtx-broken")
    assert w.source == str(broken)
    assert reader.stats.files[0].warnings == lib_broken


def test_truncated_and_garbage_files_do_not_stop_a_run(tmp_path: Path) -> None:
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(USER_CREATED.read_bytes()[:6000])
    garbage = tmp_path / "garbage.evtx"
    garbage.write_bytes(b"ElfFile\x00" + b"\xff" * 100)
    events, reader, warnings = read_all(cut, garbage, LOG_CLEARED)
    good, _ = library_count(LOG_CLEARED)
    assert len([e for e in events if e.origin.path == str(LOG_CLEARED)]) == good
    assert warnings, "broken files must be reported"
    assert {f.format for f in reader.stats.files} == {"evtx"}


def test_sniffing_picks_evtx_by_magic() -> None:
    head = USER_CREATED.read_bytes()[:65536]
    parser, score = registry.sniff(head, "whatever.bin")
    assert parser is not None and parser.NAME == "evtx" and score == 100


def test_every_shared_evtx_matches_the_library(shared_data: Path) -> None:
    """Done-when of the foundation issue: per file, Kizuki's count equals the library's,
    except records the library reports as broken, which are warnings."""
    files = sorted(shared_data.rglob("*.evtx"))
    assert len(files) > 500
    mismatches = []
    for path in files:
        good, broken = library_count(path)
        events, _, warnings = read_all(path)
        evtx_warnings = [w for w in warnings if isinstance(w, ParseWarning)]
        if len(events) != good or len(evtx_warnings) < broken:
            mismatches.append((path, good, len(events), broken, len(evtx_warnings)))
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize("name", ["sample_with_a_bad_chunk_magic.evtx",
                                  "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS"
                                  "%4Operational.evtx"])
def test_shared_corrupted_samples_warn(shared_data: Path, name: str) -> None:
    path = shared_data / "evtx-rs-samples" / "samples" / name
    events, _, warnings = read_all(path)
    assert events and warnings


def test_normalize_takes_odd_system_values_and_keeps_the_first_mapped_name() -> None:
    """A record whose EventID is not hashable (a list from a malformed export) is still
    normalized, and where two of its names map to one ECS field the mapping's first
    wins, whatever the order of the record's keys (specs are cached per raw value)."""
    from kizuki.sources.windows import normalize

    fields, ls = normalize({"Channel": "Security", "EventID": ["4624"],
                            "Provider_Name": "Microsoft-Windows-Security-Auditing"})
    assert ls.product == "windows" and fields["event.code"] == "0"
    a = {"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\\\x\\\\a.exe",
         "Image": "C:\\\\y\\\\b.exe"}
    b = dict(reversed(list(a.items())))
    # Image comes first in mappings/windows.yaml, so it wins in either order.
    assert normalize(a)[0]["process.executable"] == "C:\\\\y\\\\b.exe"
    assert normalize(b)[0]["process.executable"] == "C:\\\\y\\\\b.exe"
    assert normalize(a)[0] == normalize(b)[0]
