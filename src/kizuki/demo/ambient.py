"""Ordinary life in the demo organisation: the noise every detection must see through.

People arrive around nine, log on, open mail, browse through the proxy and open files
on the shares; some stay late (overtime, a benign off-hours event); one forgets a
password and locks the account out. Servers run a nightly backup under a service
account and a few scheduled processes; the internet knocks on the firewall all week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kizuki.demo.sim import Proc, Sim, public_ip
from kizuki.demo.world import (
    ADMIN_USER,
    BACKUP_USER,
    DEPARTMENT_SHARES,
    DNS_DOMAIN,
    FILES,
    FIREWALL_PUBLIC_IP,
    HOST_BY_NAME,
    SHARES,
    Day,
    Host,
    Person,
    Share,
)

DC01 = HOST_BY_NAME["DC01"]
FS01 = HOST_BY_NAME["FS01"]
PROXY01 = HOST_BY_NAME["PROXY01"]
WEB01 = HOST_BY_NAME["WEB01"]
ADM01 = HOST_BY_NAME["ADM01"]
SHARE_BY_NAME = {s.name: s for s in SHARES}
PROXY_PORT = 8080
_RESOLVER = "198.51.100.53"

EDGE_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0")
_OUTLOOK_UA = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)"
_TEAMS_UA = EDGE_UA + " Teams/24295.605.3225.8804/49"
_CRYPTO_UA = "Microsoft-CryptoAPI/10.0"

_OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
_APPS = {
    ".xlsx": _OFFICE + "EXCEL.EXE", ".docx": _OFFICE + "WINWORD.EXE",
    ".pptx": _OFFICE + "POWERPNT.EXE",
    ".pdf": "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe",
}
_EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
_STARTUP = (
    (_OFFICE + "OUTLOOK.EXE", '"{img}" /recycle', _OUTLOOK_UA),
    ("C:\\Program Files\\WindowsApps\\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\\"
     "ms-teams.exe", '"{img}" --system-initiated', _TEAMS_UA),
    (_EDGE, '"{img}" --profile-directory=Default', EDGE_UA),
)
#: Sites people reach through the proxy: (host, weight, status). 403 = category block.
_SITES = (
    ("outlook.office365.com", 9, 200), ("teams.microsoft.com", 6, 200),
    ("login.microsoftonline.com", 4, 200), ("www.google.com", 5, 200),
    ("www.yahoo.co.jp", 4, 200), ("news.yahoo.co.jp", 2, 200), ("www.nikkei.com", 2, 200),
    ("www.e-gov.go.jp", 1, 200), ("www.nta.go.jp", 1, 200), ("www.mhlw.go.jp", 1, 200),
    ("github.com", 2, 200), ("pypi.org", 1, 200), ("www.amazon.co.jp", 1, 200),
    ("transit.yahoo.co.jp", 1, 200), ("www.dropbox.com", 1, 403),
)
_SITE_NAMES = [s[0] for s in _SITES]
_SITE_WEIGHTS = [s[1] for s in _SITES]
_SITE_STATUS = {s[0]: s[2] for s in _SITES}
#: Names PCs look up during the day (the domain controller forwards outside names; the
#: programs then reach them through the proxy).
_LOOKUPS = (
    (f"fs01.{DNS_DOMAIN}", "10.1.0.11", "A"), (f"dc01.{DNS_DOMAIN}", "10.1.0.10", "A"),
    (f"_kerberos._tcp.{DNS_DOMAIN}", f"0 100 88 dc01.{DNS_DOMAIN}", "SRV"),
    (f"_ldap._tcp.dc._msdcs.{DNS_DOMAIN}", f"0 100 389 dc01.{DNS_DOMAIN}", "SRV"),
    (f"proxy01.{DNS_DOMAIN}", "10.2.0.10", "A"), (f"wpad.{DNS_DOMAIN}", "", "A"),
    ("login.microsoftonline.com", "203.0.113.31", "A"),
    ("outlook.office365.com", "203.0.113.32", "A"),
    ("ctldl.windowsupdate.com", "198.51.100.33", "A"),
)
_SCAN_PORTS = (22, 23, 445, 3389, 8080, 1433, 5900, 80)
_SERVER_TASKS = (
    ("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe"),
    ("C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
     "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding"),
    ("C:\\Windows\\System32\\backgroundTaskHost.exe",
     '"C:\\Windows\\system32\\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost'),
    ("C:\\Windows\\System32\\sppsvc.exe", "C:\\Windows\\system32\\sppsvc.exe"),
)
BACKUP_IMAGE = "C:\\Program Files\\BackupAgent\\bkagent.exe"


@dataclass(frozen=True, slots=True)
class BenignNight:
    """An off-hours event that is ordinary here (overtime, backup) and must not alert."""

    kind: str
    host: str
    user: str
    start: datetime
    end: datetime


def system_proc(sim: Sim) -> Proc:
    """The kernel's ``System`` process, which opens SMB connections."""
    return Proc(sim.guid(), 4, "System", "NT AUTHORITY\\SYSTEM")


def _between(sim: Sim, a: datetime, b: datetime) -> datetime:
    span = max(1.0, (b - a).total_seconds())
    return a + timedelta(seconds=sim.rng.uniform(0, span))


def workday(sim: Sim, day: Day, person: Person, *, overtime_ok: bool,
            lockout: bool = False) -> BenignNight | None:
    """One person's working day; returns the overtime, if they stayed late."""
    rng = sim.rng
    pc = HOST_BY_NAME[person.pc]
    user = person.user
    arrive = day.at(8, 25) + timedelta(seconds=rng.uniform(0, 50 * 60))
    leave = day.at(17, 45) + timedelta(seconds=rng.uniform(0, 50 * 60))
    overtime = overtime_ok and rng.random() < 0.12
    if overtime:
        leave = day.at(19, 0) + timedelta(seconds=rng.uniform(0, 90 * 60))

    t = arrive
    if lockout:
        for _ in range(5):
            sim.logon_failed(t, pc, user, 2)
            t += timedelta(seconds=rng.uniform(6, 20))
        sim.lockout(t + timedelta(seconds=0.4), DC01, user, pc)
        t += timedelta(minutes=rng.randint(12, 25))  # the help desk unlocks the account
    elif rng.random() < 0.07:
        sim.logon_failed(t, pc, user, 2)
        t += timedelta(seconds=rng.uniform(5, 15))
    lid = sim.logon_id()
    sim.logon(t, pc, user, 2, lid)
    sim.logon(sim.jitter(t, 1.5), DC01, user, 3, sim.logon_id(), client=pc, kerberos=True)
    sim.dns(sim.jitter(t, 1), pc, f"_ldap._tcp.Default-First-Site-Name._sites.dc._msdcs."
            f"{DNS_DOMAIN}", [f"0 100 389 dc01.{DNS_DOMAIN}"], "SRV", 600)
    sim.dns(sim.jitter(t, 1), pc, f"dc01.{DNS_DOMAIN}", [DC01.ip])
    sim.dns(sim.jitter(t, 2), pc, f"wpad.{DNS_DOMAIN}", [])
    sim.dns(sim.jitter(t, 3), pc, f"proxy01.{DNS_DOMAIN}", [PROXY01.ip])
    _, explorer = sim.sysmon_process(t + timedelta(seconds=4), pc, user,
                                     "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE",
                                     None, lid)
    apps: list[Proc] = []
    for image, cmd, _ua in _STARTUP:
        ts = t + timedelta(seconds=rng.uniform(20, 360))
        _, proc = sim.sysmon_process(ts, pc, user, image, cmd.format(img=image), explorer, lid)
        apps.append(proc)
        sim.sysmon_connect(sim.jitter(ts, 3), pc, proc, PROXY01.ip, PROXY_PORT,
                           dst_name=f"proxy01.{DNS_DOMAIN}")
    lunch = day.at(12, 50) + timedelta(seconds=rng.uniform(0, 20 * 60))
    sim.logon(lunch, pc, user, 7, sim.logon_id())

    for _ in range(rng.randint(6, 12)):
        name, answer, qtype = rng.choice(_LOOKUPS)
        ts = _between(sim, t + timedelta(minutes=6), leave)
        sim.dns(ts, pc, name, [answer] if answer else [], qtype,
                600 if qtype == "SRV" else 300)
        if qtype == "A" and answer:
            sim.sysmon_dns(ts - timedelta(milliseconds=2), pc, rng.choice(apps), name, [answer])
    _file_sessions(sim, person, t, leave, lid, explorer)
    _browse(sim, person, t, leave)
    if person.department == "jinji" and rng.random() < 0.7:
        _samba_session(sim, person, _between(sim, t + timedelta(minutes=30), leave))
    sim.logoff(leave, pc, user, 2, lid)
    if overtime:
        return BenignNight("overtime", pc.name, user, day.at(18), leave)
    return None


def _file_sessions(sim: Sim, person: Person, arrive: datetime, leave: datetime, lid: str,
                   explorer: Proc) -> None:
    rng = sim.rng
    pc = HOST_BY_NAME[person.pc]
    shares = DEPARTMENT_SHARES[person.department]
    count = rng.randint(2, 5) + (2 if len(shares) > 1 else 0)
    times = sorted(_between(sim, arrive + timedelta(minutes=15), leave - timedelta(minutes=5))
                   for _ in range(count))
    fs_lid = sim.logon_id()
    first = times[0] - timedelta(seconds=rng.uniform(1, 3))
    sim.dns(first, pc, f"fs01.{DNS_DOMAIN}", [FS01.ip])
    sim.sysmon_connect(first, pc, system_proc(sim), FS01.ip, 445,
                       dst_name=f"fs01.{DNS_DOMAIN}")
    sim.logon(sim.jitter(first, 0.5), FS01, person.user, 3, fs_lid, client=pc)
    running: set[str] = set()
    for ts in times:
        share = SHARE_BY_NAME[shares[-1] if rng.random() < 0.6 else shares[0]]
        rel = rng.choice(FILES[share.name])
        open_file(sim, ts, person.user, pc, share, rel, fs_lid)
        image = _APPS[rel[rel.rfind("."):]]
        if image not in running:  # a second document opens in the running Office process
            running.add(image)
            sim.sysmon_process(sim.jitter(ts - timedelta(seconds=1), 0.5), pc, person.user,
                               image, f'"{image}" "{share.unc}\\{rel}"', explorer, lid)
    sim.logoff(leave + timedelta(seconds=rng.uniform(1, 30)), FS01, person.user, 3, fs_lid)


def open_file(sim: Sim, ts: datetime, user: str, client: Host, share: Share, rel: str,
              fs_lid: str) -> list[int]:
    """A file read on FS01: 5145, plus 4663 where the folder has an audit SACL."""
    handles = [sim.share_read(ts, FS01, share, rel, user, fs_lid, client)]
    if share.important or share.name == "keiri":
        handles.append(sim.object_read(ts + timedelta(milliseconds=sim.rng.randint(3, 60)),
                                       FS01, f"{share.local_path}\\{rel}", user, fs_lid))
    return handles


def _samba_session(sim: Sim, person: Person, ts: datetime) -> None:
    pc = HOST_BY_NAME[person.pc]
    rels = sim.rng.sample(FILES["jinji2"], sim.rng.randint(1, 3))
    samba_read(sim, ts, person.user, pc, rels)


def samba_read(sim: Sim, ts: datetime, user: str, pc: Host, rels: list[str],
               gap: float = 40.0) -> tuple[list[int], list[datetime]]:
    """Connect to ``jinji2`` on FS02, open and close files, disconnect.

    Returns the handles and the times of the ``openat`` lines.
    """
    out = [sim.samba(ts, user, pc, "jinji2", "connect", "jinji2")]
    t = ts
    opened: list[datetime] = []
    for rel in rels:
        t += timedelta(seconds=sim.rng.uniform(2, gap))
        opened.append(t)
        out.append(sim.samba(t, user, pc, "jinji2", "openat", "r", rel))
        out.append(sim.samba(t + timedelta(seconds=sim.rng.uniform(1, 20)), user, pc,
                             "jinji2", "close", rel))
    out.append(sim.samba(t + timedelta(seconds=sim.rng.uniform(25, 60)), user, pc, "jinji2",
                         "disconnect", "jinji2"))
    return out, opened


def _browse(sim: Sim, person: Person, arrive: datetime, leave: datetime) -> None:
    rng = sim.rng
    pc = HOST_BY_NAME[person.pc]
    for _ in range(rng.randint(16, 34)):
        ts = _between(sim, arrive, leave)
        site = rng.choices(_SITE_NAMES, _SITE_WEIGHTS)[0]
        status = _SITE_STATUS[site]
        ua = _OUTLOOK_UA if site.startswith("outlook") else (
            _TEAMS_UA if site.startswith("teams") else EDGE_UA)
        size = rng.randint(3_000, 400_000) if status == 200 else 3_945
        sim.proxy(ts, pc, person.user, "CONNECT", f"{site}:443", status, size, ua)
        if status == 200 and rng.random() < 0.6:
            sim.firewall(sim.jitter(ts, 0.05), "FW-ALLOW-OUT: ", PROXY01.ip, public_ip(site),
                         "TCP", 443)
    if rng.random() < 0.3:
        ts = _between(sim, arrive, leave)
        target = ("http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/"
                  "authrootstl.cab")
        sim.proxy(ts, pc, person.user, "GET", target, 200, 6_431, _CRYPTO_UA)


def servers_day(sim: Sim, day: Day) -> list[BenignNight]:
    """Backups, scheduled tasks and (on working days) the administrator's visit."""
    rng = sim.rng
    nights: list[BenignNight] = []
    for host in (DC01, FS01):
        start = day.at(1, 0) + timedelta(seconds=rng.uniform(0, 600))
        lid = sim.logon_id()
        sim.logon(start, host, BACKUP_USER, 5, lid)
        sim.special_privileges(sim.jitter(start, 0.1), host, BACKUP_USER, lid)
        sim.process_4688(start + timedelta(seconds=2), host, BACKUP_USER, lid, BACKUP_IMAGE,
                         f'"{BACKUP_IMAGE}" --job nightly-{host.name.lower()} --vss',
                         "C:\\Windows\\System32\\services.exe")
        t = start + timedelta(minutes=3)
        if host is FS01:
            for share in (SHARE_BY_NAME["jinji"], SHARE_BY_NAME["keiri"]):
                for rel in FILES[share.name]:
                    t += timedelta(seconds=rng.uniform(2, 30))
                    sim.object_read(t, FS01, f"{share.local_path}\\{rel}", BACKUP_USER, lid,
                                    BACKUP_IMAGE, f"0x{rng.randint(0x200, 0x3FFF):x}")
        end = start + timedelta(minutes=rng.randint(30, 45))
        sim.logoff(end, host, BACKUP_USER, 5, lid)
        nights.append(BenignNight("backup", host.name, BACKUP_USER, start, end))
        for _ in range(rng.randint(3, 7)):
            image, cmd = rng.choice(_SERVER_TASKS)
            sim.process_4688(day.at(0) + timedelta(seconds=rng.uniform(0, 86_399)), host,
                             "SYSTEM", "0x3e7", image, cmd,
                             "C:\\Windows\\System32\\svchost.exe")
        # Windows Update through the proxy, in the small hours.
        ts = day.at(3) + timedelta(seconds=rng.uniform(0, 3_600))
        sim.proxy(ts, host, "-", "GET", "http://ctldl.windowsupdate.com/msdownload/update/v3/"
                  "static/trustedr/en/disallowedcertstl.cab", 200, 8_112, _CRYPTO_UA)
    if day.working:
        _admin_visit(sim, day)
    _firewall_day(sim, day)
    return nights


def _admin_visit(sim: Sim, day: Day) -> None:
    rng = sim.rng
    ts = day.at(10, 0) + timedelta(seconds=rng.uniform(0, 90 * 60))
    lid = sim.logon_id()
    sim.logon(ts, DC01, ADMIN_USER, 10, lid, client=ADM01)
    sim.special_privileges(sim.jitter(ts, 0.1), DC01, ADMIN_USER, lid)
    for offset, snap in ((40, "dsa.msc"), (300, "gpmc.msc")):
        sim.process_4688(ts + timedelta(seconds=offset + rng.uniform(0, 60)), DC01, ADMIN_USER,
                         lid, "C:\\Windows\\System32\\mmc.exe",
                         f'"C:\\Windows\\system32\\mmc.exe" "C:\\Windows\\system32\\{snap}"',
                         "C:\\Windows\\explorer.exe")
    sim.logoff(ts + timedelta(minutes=rng.randint(20, 40)), DC01, ADMIN_USER, 10, lid)


def _firewall_day(sim: Sim, day: Day) -> None:
    rng = sim.rng
    for hour in range(24):
        base = day.at(hour)
        for _ in range(rng.randint(2, 8)):
            src = f"{rng.choice(('203.0.113', '198.51.100'))}.{rng.randint(1, 254)}"
            sim.firewall(base + timedelta(seconds=rng.uniform(0, 3_600)), "FW-DENY-IN: ", src,
                         FIREWALL_PUBLIC_IP, "TCP", rng.choice(_SCAN_PORTS), inbound=True)
        for _ in range(rng.randint(2, 5)):
            sim.firewall(base + timedelta(seconds=rng.uniform(0, 3_600)), "FW-ALLOW-OUT: ",
                         PROXY01.ip, _RESOLVER, "UDP", 53)
        if hour % 4 == 2:
            # WEB01 tries its package mirror directly; only the proxy may go out (R2).
            sim.firewall(base + timedelta(seconds=rng.uniform(0, 3_600)), "FW-DENY-OUT: ",
                         WEB01.ip, public_ip("archive.ubuntu.com"), "TCP", 443)
