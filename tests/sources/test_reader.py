"""Folders, archives and unknown files: the reader never stops on one bad input."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

from kizuki.sources.base import ParseWarning

from ..conftest import DATA, read_all

WB8 = DATA / "windows-json" / "winlogbeat8_sample.json"
EVTX = DATA / "evtx" / "T1070.001-event-log-cleared-104-1102.evtx"


def test_zip_tar_gzip_members_are_read(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.write(WB8, "logs/sec.json")
        zf.write(EVTX, "logs/sec.evtx")
        zf.writestr("README.md", "skip me")
    with tarfile.open(tmp_path / "b.tar.gz", "w:gz") as tf:
        tf.add(WB8, "sec.json")
    (tmp_path / "c.json.gz").write_bytes(gzip.compress(WB8.read_bytes()))
    events, reader, warnings = read_all(tmp_path)
    assert not warnings
    files = {(f.path.removeprefix(f"{tmp_path}/"), f.format, f.records)
             for f in reader.stats.files}
    evtx_count = len(read_all(EVTX)[0])
    assert files == {("a.zip!logs/sec.json", "windows-json", 3),
                     ("a.zip!logs/sec.evtx", "evtx", evtx_count),
                     ("b.tar.gz!sec.json", "windows-json", 3),
                     ("c.json.gz!c.json", "windows-json", 3)}
    member = next(e for e in events if e.origin.member == "logs/sec.json")
    assert member.origin.path == str(tmp_path / "a.zip")


def test_truncated_tar_gz_keeps_what_it_can(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(WB8, "first.json")
        data = WB8.read_bytes() * 2000
        info = tarfile.TarInfo("second.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    events, _, warnings = read_all(cut)
    assert len(events) >= 3
    assert any(isinstance(w, ParseWarning) and "truncated" in w.kind for w in warnings)


def test_unknown_and_missing_inputs_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01\x02 not a log")
    events, reader, warnings = read_all(tmp_path / "notes.bin", tmp_path / "nope.log", WB8)
    assert len(events) == 3
    kinds = sorted(w.kind for w in warnings if isinstance(w, ParseWarning))
    assert kinds == ["missing", "unknown-format"]
    assert [f.format for f in reader.stats.files] == ["unknown", "unknown", "windows-json"]


def test_pcap_is_named_not_unknown(tmp_path: Path) -> None:
    pcap = tmp_path / "x.pcap"
    pcap.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 40)
    _, reader, warnings = read_all(pcap)
    assert reader.stats.files[0].format == "pcap"
    assert [w.kind for w in warnings if isinstance(w, ParseWarning)] == ["unsupported-format"]
