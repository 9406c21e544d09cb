"""The small organisation the demo logs come from: people, machines, shares, calendar.

The organisation is fixed (it does not depend on the seed) so that the docs can name
its hosts; the seed only decides who does what and when. Addresses come from private
and documentation ranges (RFC 1918, RFC 5737); names under ``example.jp``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

TIMEZONE = "Asia/Tokyo"
TZ = ZoneInfo(TIMEZONE)
DOMAIN = "CORP"
DNS_DOMAIN = "corp.example.jp"
#: Business hours of a working day (R16: outside them, or on a holiday, is "night").
BUSINESS_START = time(9, 0)
BUSINESS_END = time(18, 0)

#: Network zones (R23): PCs and internal servers are protected, with no default route;
#: the proxy and web server sit on the general network; everything that would take the
#: default route ends at the sinkhole (R3).
PROTECTED_CIDRS = ("10.1.0.0/16",)
GENERAL_CIDRS = ("10.2.0.0/24",)
SINKHOLE_IP = "10.255.255.1"
SINKHOLE_CIDRS = (f"{SINKHOLE_IP}/32",)
FIREWALL_PUBLIC_IP = "192.0.2.10"

_FAMILY = (
    "tanaka", "suzuki", "takahashi", "watanabe", "ito", "yamamoto", "nakamura",
    "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto",
    "inoue", "kimura", "hayashi", "shimizu", "yamazaki", "mori", "abe", "ikeda",
    "hashimoto", "yamashita", "ishikawa", "nakajima", "maeda", "fujita", "ogawa",
    "goto", "okada", "hasegawa", "murakami", "kondo", "ishii", "saito", "sakamoto",
    "endo", "aoki", "fujii",
)
_GIVEN = (
    "hiroshi", "yuki", "akira", "naoko", "takeshi", "emi", "kenji", "mai", "daisuke",
    "ayumi", "satoshi", "haruka", "makoto", "yoko", "tsuyoshi", "misaki", "kazuya",
    "rie", "shota", "keiko", "ryo", "sayaka", "yusuke", "tomoko", "koji", "nanami",
    "masaki", "kaori", "takuya", "megumi", "shinji", "eri", "hideki", "chihiro",
    "jun", "asuka", "tetsuya", "miho", "kazuki", "noriko",
)
#: Departments in roster order: (department, head count).
_DEPARTMENTS = (("soumu", 5), ("keiri", 6), ("jinji", 5), ("eigyou", 14), ("kaihatsu", 10))


@dataclass(frozen=True, slots=True)
class Person:
    """An employee: one account, one PC (shared accounts and PCs are abolished, R10)."""

    user: str
    department: str
    pc: str


@dataclass(frozen=True, slots=True)
class Share:
    """An SMB share; ``important`` marks the data R7/R16 watch."""

    server: str
    name: str
    local_path: str
    important: bool
    purpose: str

    @property
    def unc(self) -> str:
        return f"\\\\{self.server}\\{self.name}"


@dataclass(frozen=True, slots=True)
class Host:
    """A machine of the inventory, as the context files describe it."""

    name: str
    ip: str
    role: str
    zone: str
    criticality: str
    owner: str
    os: str
    mac: str
    shares: tuple[Share, ...] = field(default=())

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DNS_DOMAIN}"


def _mac(n: int) -> str:
    return f"00:15:5d:01:{n // 256:02x}:{n % 256:02x}"


SHARES: tuple[Share, ...] = (
    Share("FS01", "keiri", "D:\\Shares\\keiri", False, "finance"),
    Share("FS01", "jinji", "D:\\Shares\\jinji", True, "human resources"),
    Share("FS01", "common", "D:\\Shares\\common", False, "everyone"),
    Share("FS02", "jinji2", "/srv/samba/jinji2", True, "human resources archive"),
)


def _people() -> tuple[Person, ...]:
    out: list[Person] = []
    i = 0
    for dept, count in _DEPARTMENTS:
        for _ in range(count):
            out.append(Person(f"{_FAMILY[i]}.{_GIVEN[i]}", dept, f"WS-{i + 1:02d}"))
            i += 1
    return tuple(out)


PEOPLE: tuple[Person, ...] = _people()
ADMIN_USER = "adm.kimura"
BACKUP_USER = "svc_backup"


def _hosts() -> tuple[Host, ...]:
    def shares(server: str) -> tuple[Share, ...]:
        return tuple(s for s in SHARES if s.server == server)

    servers = (
        Host("DC01", "10.1.0.10", "domain-controller", "protected", "critical", "it",
             "Windows Server 2022", _mac(10)),
        Host("FS01", "10.1.0.11", "file-server", "protected", "critical", "it",
             "Windows Server 2022", _mac(11), shares("FS01")),
        Host("FS02", "10.1.0.12", "file-server", "protected", "high", "it",
             "Ubuntu 24.04 (Samba 4.19)", _mac(12), shares("FS02")),
        Host("PROXY01", "10.2.0.10", "proxy", "general", "medium", "it",
             "Ubuntu 24.04 (Squid)", _mac(20)),
        Host("WEB01", "10.2.0.20", "web-server", "general", "medium", "it",
             "Ubuntu 24.04 (nginx)", _mac(21)),
        Host("ADM01", "10.1.0.50", "admin-workstation", "protected", "high", ADMIN_USER,
             "Windows 11 Pro", _mac(50)),
        Host("FW01", "10.1.0.1", "firewall", "protected", "high", "it",
             "Linux iptables", _mac(1)),
        Host("SINK01", SINKHOLE_IP, "sinkhole", "sinkhole", "medium", "it",
             "Linux iptables", _mac(255)),
    )
    pcs = tuple(
        Host(p.pc, f"10.1.1.{21 + n}", "workstation", "protected", "low", p.user,
             "Windows 11 Pro", _mac(100 + n))
        for n, p in enumerate(PEOPLE)
    )
    return servers + pcs


HOSTS: tuple[Host, ...] = _hosts()
HOST_BY_NAME: dict[str, Host] = {h.name: h for h in HOSTS}
PERSON_BY_USER: dict[str, Person] = {p.user: p for p in PEOPLE}


#: Files on each share: (relative path, typical size in bytes). Japanese UTF-8 names are
#: what real Japanese shares hold.
FILES: dict[str, tuple[str, ...]] = {
    "jinji": (
        "給与\\給与一覧_2026.xlsx", "給与\\賞与査定_2026冬.xlsx",
        "人事評価\\評価シート_2026上期.xlsx", "社員名簿\\社員名簿_2026.xlsx",
        "採用\\内定者一覧_2027.xlsx", "人事異動\\異動案_2027春.docx",
        "マイナンバー\\個人番号台帳.xlsx", "健康診断\\健診結果_2026.pdf",
    ),
    "jinji2": (
        "archive/給与一覧_2024.xlsx", "archive/給与一覧_2025.xlsx", "archive/退職者一覧.xlsx",
        "archive/人事評価_2025.xlsx",
    ),
    "keiri": (
        "2026\\月次決算_10月.xlsx", "2026\\請求書\\請求書_0123.pdf", "2026\\支払予定表.xlsx",
        "経費精算\\経費精算_11月.xlsx", "予算\\予算案_2027.xlsx", "2026\\売上集計.xlsx",
    ),
    "common": (
        "規程\\就業規則.pdf", "テンプレート\\議事録.docx", "テンプレート\\見積書.xlsx",
        "営業\\顧客リスト_公開用.xlsx", "開発\\設計書_v3.docx", "開発\\仕様書_202611.docx",
        "総務\\社内行事_2026.pptx", "jinji_old\\給与一覧_2019.xlsx",
        "jinji_old\\社員名簿_2019.xlsx", "共有\\会議室予約.xlsx",
    ),
}
#: Shares each department uses in business hours (everyone uses ``common``).
DEPARTMENT_SHARES: dict[str, tuple[str, ...]] = {
    "soumu": ("common",),
    "keiri": ("common", "keiri"),
    "jinji": ("common", "jinji"),
    "eigyou": ("common",),
    "kaihatsu": ("common",),
}


@dataclass(frozen=True, slots=True)
class Day:
    """One calendar day of the generated week and whether people work on it."""

    index: int
    date: date
    working: bool
    holiday: str | None

    def at(self, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
        """A local (Asia/Tokyo) instant on this day; hours past 23 roll into the next."""
        base = datetime(self.date.year, self.date.month, self.date.day, tzinfo=TZ)
        return base + timedelta(hours=hour, minutes=minute, seconds=second)


def week(start: date) -> tuple[Day, ...]:
    """The seven days from ``start``, with Japanese public holidays (``holidays``)."""
    jp = holidays.country_holidays("JP", years=sorted({start.year, start.year + 1}))
    days = []
    for i in range(7):
        d = start + timedelta(days=i)
        name = jp.get(d)
        days.append(Day(i, d, d.weekday() < 5 and name is None, name))
    return tuple(days)
