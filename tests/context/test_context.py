"""Context: calendar (Japan, Asia/Tokyo), assets and zones, read as the demo writes them (R16)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kizuki.context import Assets, Calendar, Context, Zones, criticality_name
from kizuki.demo import generate
from kizuki.errors import ConfigError

JST = ZoneInfo("Asia/Tokyo")


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)


def test_default_calendar_is_japan_in_tokyo() -> None:
    cal = Calendar()
    assert cal.holiday_name(jst(2026, 11, 3, 10)) == "文化の日 (Culture Day)"
    assert cal.is_holiday(jst(2026, 11, 3, 10)) and not cal.is_business_hours(jst(2026, 11, 3, 10))
    assert cal.is_business_hours(jst(2026, 11, 4, 9)) and not cal.is_business_hours(
        jst(2026, 11, 4, 18))
    assert cal.is_off_hours(jst(2026, 11, 4, 18, 30)) and not cal.is_night(jst(2026, 11, 4, 21))
    assert cal.is_night(jst(2026, 11, 4, 22)) and cal.is_night(jst(2026, 11, 5, 4, 59))
    assert not cal.is_night(jst(2026, 11, 5, 5))
    assert cal.is_weekend(jst(2026, 11, 7, 12)) and not cal.is_weekend(jst(2026, 11, 6, 12))
    # 2026-11-03 00:30 UTC is 09:30 JST on Culture Day, the UTC date notwithstanding.
    assert cal.is_holiday(datetime(2026, 11, 3, 0, 30, tzinfo=UTC))
    assert not cal.is_holiday(datetime(2026, 11, 2, 14, 59, tzinfo=UTC))
    assert cal.holiday_name(jst(2027, 1, 1, 10)) == "元日 (New Year's Day)"


def test_company_calendar_on_top() -> None:
    cal = Calendar.from_dict({
        "timezone": "Asia/Tokyo",
        "business_hours": {"mon": {"start": "08:30", "end": "17:30"}, "sat": {"start": "09:00",
                                                                            "end": "12:00"}},
        "night": {"start": "23:00", "end": "04:00"},
        "holidays": [{"date": "2026-12-29", "name": "年末休暇"}],
        "working_days": ["2026-11-03"],
    })
    assert cal.holiday_name(jst(2026, 12, 29, 10)) == "年末休暇"
    assert not cal.is_holiday(jst(2026, 11, 3, 10)) and cal.is_business_hours(jst(2026, 11, 3, 10))
    assert cal.is_business_hours(jst(2026, 11, 2, 8, 45)) and not cal.is_business_hours(
        jst(2026, 11, 2, 17, 45))
    assert cal.is_business_hours(jst(2026, 11, 7, 11)) and not cal.is_weekend(jst(2026, 11, 7, 11))
    assert cal.is_weekend(jst(2026, 11, 8, 11))
    assert not cal.is_night(jst(2026, 11, 4, 22, 30)) and cal.is_night(jst(2026, 11, 4, 23))


def test_yaml_reads_unquoted_times_and_no_country(tmp_path: Path) -> None:
    p = tmp_path / "calendar.yaml"
    p.write_text("timezone: UTC\ncountry: null\nbusiness_hours: {start: 9:00, end: 18:00}\n")
    cal = Calendar.load(p)
    assert cal.hours[0] == (time(9), time(18)) and cal.country is None
    assert not cal.is_holiday(datetime(2026, 11, 3, 10, tzinfo=UTC))


def test_calendar_errors_name_file_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "calendar.yaml"
    p.write_text("timezone: Asia/Tokyo\nworkdays: [mon, funday]\n")
    with pytest.raises(ConfigError,
                       match=r"calendar.yaml:2: unknown weekday 'funday'.*workdays\.1"):
        Calendar.load(p)
    p.write_text("timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match=r"calendar.yaml:1: unknown time zone"):
        Calendar.load(p)


def test_assets_from_yaml_and_csv(tmp_path: Path) -> None:
    assets = Assets.from_records([
        {"host": "FS01", "fqdn": "FS01.corp.example.jp", "ip": "10.1.0.11", "criticality": 1,
         "role": "file-server", "shares": [{"name": "jinji", "local_path": "D:\\Shares\\jinji",
                                            "important": True}]},
    ])
    a = assets.get("fs01.CORP.example.jp")
    assert a is not None and a is assets.get("10.1.0.11") and a.criticality == "critical"
    assert a.role == "file_server" and assets.host_of_ip("10.1.0.11") == "fs01"
    share = a.share(path="\\??\\D:\\Shares\\jinji\\給与\\a.xlsx")
    assert share is not None and share.important
    assert a.share(path="D:\\Shares\\jinji_old\\a.xlsx") is None
    csv = tmp_path / "assets.csv"
    csv.write_text("host,ip,owner,zone,criticality,role\n"
                   "WS-05,10.1.1.25;fe80::5,ito.takeshi,protected,low,workstation\n"
                   "DC01,10.1.0.10,it,protected,tier 1,domain controller\n", "utf-8")
    loaded = Assets.load(csv)
    assert loaded.host_of_ip("fe80::5") == "ws-05" and loaded.get("DC01").role == \
        "domain_controller"  # type: ignore[union-attr]
    assert [x.host for x in loaded.owned_by("CORP\\ito.takeshi")] == ["WS-05"]
    assert criticality_name("Tier 2") == "high" and criticality_name("urgent") is None
    csv.write_text("host,criticality\nWS-05,urgent\n", "utf-8")
    with pytest.raises(ConfigError, match=r"assets.csv:2: unknown criticality"):
        Assets.load(csv)


def test_zones_most_specific_first() -> None:
    zones = Zones.from_mapping({"protected": ["10.0.0.0/8"], "sinkhole": ["10.255.255.1/32"],
                                "general": ["10.2.0.0/24"]})
    assert zones.zone_of("10.255.255.1") == "sinkhole"
    assert zones.zone_of("10.2.0.9") == "general" and zones.zone_of("10.1.1.1") == "protected"
    assert zones.zone_of("::ffff:10.2.0.9") == "general"
    assert zones.zone_of("198.51.100.7") is None and zones.zone_of("not an ip") is None


def test_context_load_reads_the_demo_files(tmp_path: Path) -> None:
    generate(tmp_path, start=date(2026, 11, 2))
    ctx = Context.load(tmp_path / "context")
    assert len(ctx.assets) == 48
    assert ctx.calendar.tz.key == "Asia/Tokyo" and ctx.calendar.hours[0] == (time(9), time(18))
    assert ctx.calendar.holiday_name(jst(2026, 11, 3, 23)) == "文化の日 (Culture Day)"
    assert ctx.zone_of("10.255.255.1") == "sinkhole" and ctx.zone_of("sink01") == "sinkhole"
    assert ctx.zone_of("WS-04.corp.example.jp") == "protected"
    assert ctx.host_of("10.1.1.24") == "ws-04" and ctx.host_of("192.0.2.99") == "192.0.2.99"
    fs01 = ctx.asset("FS01")
    assert fs01 is not None and fs01.criticality == "critical" and fs01.role == "file_server"
    assert ctx.assets.important_shares() == ["\\\\FS01\\jinji", "\\\\FS02\\jinji2"]
    with pytest.raises(ConfigError):
        Context.load(tmp_path / "missing")
