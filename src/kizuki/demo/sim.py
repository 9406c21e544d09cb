"""Emitters for every demo source: one method per kind of record a story needs.

A :class:`Sim` owns the seeded ``random.Random`` and the :class:`Logbook`; stories call
its methods in a fixed order, so one seed always gives the same bytes. Each method
returns the logbook handle(s) of what it wrote, for the ground truth.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from kizuki.demo.formats import (
    SECURITY,
    SYSMON,
    Packet,
    WinEvent,
    combined_line,
    iptables_line,
    samba_audit_line,
    sysmon_utc,
    zeek_dns_line,
)
from kizuki.demo.logbook import Logbook
from kizuki.demo.world import (
    DNS_DOMAIN,
    DOMAIN,
    HOST_BY_NAME,
    Host,
    Share,
)

WIN_SECURITY = "windows/security.jsonl"
WIN_SYSMON = "windows/sysmon.jsonl"
SAMBA = "fileserver/full_audit.log"
FIREWALL = "firewall/iptables.log"
SINKHOLE = "sinkhole/sinkhole.log"
PROXY = "proxy/access.log"
DNS = "dns/dns.log"

_SID_BASE = "S-1-5-21-1004336348-1177238915-682003330"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ROUTER_MAC = "00:15:5d:01:00:fe"
_FW_MACS = {"eth0": "00:15:5d:02:00:01", "eth1": "00:15:5d:02:00:02",
            "eth2": "00:15:5d:02:00:03"}
_SINK_MAC = "00:15:5d:01:ff:01"
_READ_5145 = ("0x120089", "%%1538 %%1541 %%4416 %%4419 %%4423")


@dataclass(slots=True)
class Proc:
    """A process Sysmon saw start, so later events can name it."""

    guid: str
    pid: int
    image: str
    user: str


class Sim:
    """The seeded random source, the logbook, and one emitter per record kind."""

    def __init__(self, rng: random.Random, book: Logbook, start: datetime) -> None:
        self.rng = rng
        self.book = book
        self.sids: dict[str, str] = {}
        # Linux kernels count uptime from boot; the firewall and sinkhole booted weeks ago.
        self.boot = {"fw01": start - timedelta(days=41, seconds=rng.randint(0, 86_400)),
                     "sink01": start - timedelta(days=17, seconds=rng.randint(0, 86_400))}

    # -- small helpers -------------------------------------------------------------
    def task_scheduler(self) -> Proc:
        """The Task Scheduler service host, parent of scheduled programs."""
        return Proc(self.guid(), self.rng.randint(1000, 4_000),
                    "C:\\Windows\\System32\\svchost.exe", "NT AUTHORITY\\SYSTEM")

    def sid(self, user: str) -> str:
        """A stable domain SID per account (RIDs handed out in order of first use)."""
        if user not in self.sids:
            self.sids[user] = f"{_SID_BASE}-{1105 + len(self.sids)}"
        return self.sids[user]

    def logon_id(self) -> str:
        return f"0x{self.rng.randint(0x100000, 0xFFFFFFF):x}"

    def port(self) -> int:
        return self.rng.randint(49_700, 65_000)

    def guid(self) -> str:
        r = self.rng
        return (f"{{{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-{r.getrandbits(16):04x}-"
                f"{r.getrandbits(16):04x}-{r.getrandbits(48):012x}}}")

    def jitter(self, ts: datetime, seconds: float) -> datetime:
        """``ts`` plus up to ``seconds`` of random delay, at millisecond resolution."""
        return ts + timedelta(milliseconds=self.rng.randint(0, int(seconds * 1000)))

    # -- Windows Security ----------------------------------------------------------
    def win(self, ts: datetime, host: Host, event_id: int, data: dict[str, str],
            failure: bool = False, channel: tuple[str, str, str] = SECURITY) -> int:
        ev = WinEvent(ts, host.fqdn, channel, event_id, data, failure)
        file = WIN_SECURITY if channel is SECURITY else WIN_SYSMON
        return self.book.add(file, ts, ev.render, (host.fqdn, channel[0]))

    def logon(self, ts: datetime, host: Host, user: str, logon_type: int, lid: str,
              client: Host | None = None, kerberos: bool = False) -> int:
        """4624: interactive (2/7/10/11), network (3) or service (5) logon."""
        network = logon_type in (3, 10)
        data = {
            "SubjectUserSid": "S-1-0-0" if network else "S-1-5-18",
            "SubjectUserName": "-" if network else f"{host.name}$",
            "SubjectDomainName": "-" if network else DOMAIN,
            "SubjectLogonId": "0x0" if network else "0x3e7",
            "TargetUserSid": self.sid(user), "TargetUserName": user,
            "TargetDomainName": DOMAIN, "TargetLogonId": lid,
            "LogonType": str(logon_type),
            "LogonProcessName": "Kerberos" if kerberos else (
                "NtLmSsp " if logon_type == 3 else "User32 " if logon_type != 5 else "Advapi  "),
            "AuthenticationPackageName": "Kerberos" if kerberos else (
                "NTLM" if logon_type == 3 else "Negotiate"),
            "WorkstationName": "-" if kerberos else (client or host).name,
            "ProcessName": "-" if network else (
                "C:\\Windows\\System32\\services.exe" if logon_type == 5
                else "C:\\Windows\\System32\\svchost.exe"),
            "IpAddress": client.ip if client else ("-" if logon_type == 5 else "127.0.0.1"),
            "IpPort": str(self.port()) if client else "0",
            "ImpersonationLevel": "%%1833", "ElevatedToken": "%%1843",
        }
        return self.win(ts, host, 4624, data)

    def logon_failed(self, ts: datetime, host: Host, user: str, logon_type: int,
                     client: Host | None = None) -> int:
        """4625 with a wrong password (0xC000006A)."""
        data = {
            "SubjectUserSid": "S-1-5-18", "SubjectUserName": f"{host.name}$",
            "SubjectDomainName": DOMAIN, "SubjectLogonId": "0x3e7",
            "TargetUserSid": "S-1-0-0", "TargetUserName": user, "TargetDomainName": DOMAIN,
            "Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": "0xc000006a",
            "LogonType": str(logon_type), "LogonProcessName": "User32 ",
            "AuthenticationPackageName": "Negotiate",
            "WorkstationName": (client or host).name,
            "ProcessName": "C:\\Windows\\System32\\svchost.exe",
            "IpAddress": client.ip if client else "127.0.0.1",
            "IpPort": str(self.port()) if client else "0",
        }
        return self.win(ts, host, 4625, data, failure=True)

    def logoff(self, ts: datetime, host: Host, user: str, logon_type: int, lid: str) -> int:
        """4634."""
        return self.win(ts, host, 4634, {
            "TargetUserSid": self.sid(user), "TargetUserName": user,
            "TargetDomainName": DOMAIN, "TargetLogonId": lid, "LogonType": str(logon_type),
        })

    def special_privileges(self, ts: datetime, host: Host, user: str, lid: str) -> int:
        """4672 for an administrator or the backup account."""
        return self.win(ts, host, 4672, {
            "SubjectUserSid": self.sid(user), "SubjectUserName": user,
            "SubjectDomainName": DOMAIN, "SubjectLogonId": lid,
            "PrivilegeList": "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\t"
                             "SeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege",
        })

    def lockout(self, ts: datetime, dc: Host, user: str, caller: Host) -> int:
        """4740 on the domain controller; TargetDomainName is the caller's computer."""
        return self.win(ts, dc, 4740, {
            "TargetUserName": user, "TargetDomainName": caller.name,
            "TargetSid": self.sid(user), "SubjectUserSid": "S-1-5-18",
            "SubjectUserName": f"{dc.name}$", "SubjectDomainName": DOMAIN,
            "SubjectLogonId": "0x3e7",
        })

    def process_4688(self, ts: datetime, host: Host, user: str, lid: str, image: str,
                     command: str, parent: str) -> int:
        """4688 with command-line auditing on (servers)."""
        return self.win(ts, host, 4688, {
            "SubjectUserSid": self.sid(user) if user != "SYSTEM" else "S-1-5-18",
            "SubjectUserName": user if user != "SYSTEM" else f"{host.name}$",
            "SubjectDomainName": DOMAIN, "SubjectLogonId": lid,
            "NewProcessId": f"0x{self.rng.randint(0x200, 0x3FFF):x}", "NewProcessName": image,
            "TokenElevationType": "%%1936",
            "ProcessId": f"0x{self.rng.randint(0x200, 0x3FFF):x}", "CommandLine": command,
            "TargetUserSid": "S-1-0-0", "TargetUserName": "-", "TargetDomainName": "-",
            "TargetLogonId": "0x0", "ParentProcessName": parent,
            "MandatoryLabel": "S-1-16-12288" if user != "SYSTEM" else "S-1-16-16384",
        })

    def share_read(self, ts: datetime, fs: Host, share: Share, rel: str, user: str,
                   lid: str, client: Host) -> int:
        """5145: a file on a share was checked for read access from ``client``."""
        mask, access = _READ_5145
        return self.win(ts, fs, 5145, {
            "SubjectUserSid": self.sid(user), "SubjectUserName": user,
            "SubjectDomainName": DOMAIN, "SubjectLogonId": lid, "ObjectType": "File",
            "IpAddress": client.ip, "IpPort": str(self.port()),
            "ShareName": f"\\\\*\\{share.name}", "ShareLocalPath": f"\\??\\{share.local_path}",
            "RelativeTargetName": rel, "AccessMask": mask, "AccessList": access,
            "AccessReason": "-",
        })

    def object_read(self, ts: datetime, fs: Host, path: str, user: str, lid: str,
                    process: str = "", pid: str = "0x4") -> int:
        """4663: read of an audited file (SACL on the important folders only)."""
        return self.win(ts, fs, 4663, {
            "SubjectUserSid": self.sid(user), "SubjectUserName": user,
            "SubjectDomainName": DOMAIN, "SubjectLogonId": lid, "ObjectServer": "Security",
            "ObjectType": "File", "ObjectName": path,
            "HandleId": f"0x{self.rng.randint(0x100, 0x3FFF):x}", "AccessList": "%%4416",
            "AccessMask": "0x1", "ProcessId": pid, "ProcessName": process,
            "ResourceAttributes": "S:AI",
        })

    # -- Sysmon --------------------------------------------------------------------
    def sysmon_process(self, ts: datetime, host: Host, user: str, image: str, command: str,
                       parent: Proc | None, lid: str = "0x3e7") -> tuple[int, Proc]:
        """Sysmon 1; returns the handle and the new process."""
        system = user == "SYSTEM"
        proc = Proc(self.guid(), self.rng.randint(1000, 19_999), image,
                    "NT AUTHORITY\\SYSTEM" if system else f"{DOMAIN}\\{user}")
        name = image.rsplit("\\", 1)[-1]
        digest = hashlib.sha256(image.lower().encode()).hexdigest().upper()
        data = {
            "RuleName": "-", "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid,
            "ProcessId": str(proc.pid), "Image": image, "OriginalFileName": name,
            "CommandLine": command,
            "CurrentDirectory": "C:\\Windows\\system32\\" if system
            else f"C:\\Users\\{user}\\",
            "User": proc.user, "LogonId": lid, "TerminalSessionId": "0" if system else "1",
            "IntegrityLevel": "System" if system else "Medium", "Hashes": f"SHA256={digest}",
            "ParentProcessGuid": parent.guid if parent else self.guid(),
            "ParentProcessId": str(parent.pid) if parent else str(self.rng.randint(600, 9_999)),
            "ParentImage": parent.image if parent else "C:\\Windows\\System32\\userinit.exe",
            "ParentUser": parent.user if parent else "NT AUTHORITY\\SYSTEM",
        }
        return self.win(ts, host, 1, data, channel=SYSMON), proc

    def sysmon_connect(self, ts: datetime, host: Host, proc: Proc, dst: str, dport: int,
                       sport: int | None = None, dst_name: str = "-") -> int:
        """Sysmon 3: an outbound TCP connection by ``proc``."""
        return self.win(ts, host, 3, {
            "RuleName": "-", "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid,
            "ProcessId": str(proc.pid), "Image": proc.image, "User": proc.user,
            "Protocol": "tcp", "Initiated": "true", "SourceIsIpv6": "false",
            "SourceIp": host.ip, "SourceHostname": host.fqdn,
            "SourcePort": str(sport or self.port()), "SourcePortName": "-",
            "DestinationIsIpv6": "false", "DestinationIp": dst,
            "DestinationHostname": dst_name, "DestinationPort": str(dport),
            "DestinationPortName": {443: "https", 445: "microsoft-ds"}.get(dport, "-"),
        }, channel=SYSMON)

    def sysmon_dns(self, ts: datetime, host: Host, proc: Proc, query: str,
                   answers: list[str]) -> int:
        """Sysmon 22: a name lookup by ``proc``."""
        results = "".join(f"::ffff:{a};" for a in answers) or "-"
        return self.win(ts, host, 22, {
            "RuleName": "-", "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid,
            "ProcessId": str(proc.pid), "QueryName": query,
            "QueryStatus": "0" if answers else "9003", "QueryResults": results,
            "Image": proc.image, "User": proc.user,
        }, channel=SYSMON)

    # -- network sources -----------------------------------------------------------
    def dns(self, ts: datetime, client: Host, query: str, answers: list[str],
            qtype: str = "A", ttl: int = 3600) -> int:
        """A Zeek dns.log record of ``client`` asking the domain controller."""
        uid = "C" + "".join(self.rng.choice(_B62) for _ in range(17))
        # The sensor stamps packets in microseconds; Windows clocks above are in ms.
        ts = ts + timedelta(microseconds=self.rng.randint(0, 999))
        internal = query.endswith(DNS_DOMAIN)
        rcode = "NOERROR" if answers else "NXDOMAIN"
        line = zeek_dns_line(ts, uid, client.ip, self.port(), HOST_BY_NAME["DC01"].ip,
                             self.rng.randint(1, 65_535), self.rng.uniform(0.0002, 0.04),
                             query, qtype, rcode, answers, ttl, authoritative=internal)
        return self.book.add(DNS, ts, line)

    def firewall(self, ts: datetime, prefix: str, src: str, dst: str, proto: str,
                 dport: int, inbound: bool = False) -> int:
        """An iptables LOG line of the boundary firewall FW01 (FORWARD chain)."""
        in_if, out_if = ("eth0", "eth1") if inbound else ("eth1", "eth0")
        mac = f"{_FW_MACS[in_if]}:{_ROUTER_MAC}:08:00"
        pkt = Packet(src, dst, proto, self.port(), dport, self.rng.choice((45, 49, 52, 112))
                     if inbound else 63, self.rng.randint(1, 65_535),
                     60 if proto == "TCP" else 72)
        uptime = (ts - self.boot["fw01"]).total_seconds()
        return self.book.add(FIREWALL, ts, iptables_line(ts, "fw01", uptime, prefix, in_if,
                                                         out_if, mac, pkt))

    def sinkhole(self, ts: datetime, client: Host, dst: str, dport: int, sport: int,
                 proto: str = "TCP") -> int:
        """A packet that took the default route, logged by the sinkhole (R3)."""
        pkt = Packet(client.ip, dst, proto, sport, dport, 127, self.rng.randint(1, 65_535),
                     52 if proto == "TCP" else 76, 64_240)
        uptime = (ts - self.boot["sink01"]).total_seconds()
        return self.book.add(SINKHOLE, ts, iptables_line(
            ts, "sink01", uptime, "SINKHOLE: ", "eth0", "", f"{_SINK_MAC}:{_ROUTER_MAC}:08:00",
            pkt))

    def sinkhole_attempt(self, ts: datetime, client: Host, dst: str, dport: int) -> list[int]:
        """One TCP connect that nobody answers: the SYN and Windows' two retransmissions."""
        sport = self.port()
        return [self.sinkhole(ts + timedelta(seconds=delay), client, dst, dport, sport)
                for delay in (0.0, 1.0 + self.rng.random() * 0.02, 3.0 + self.rng.random() * 0.02)]

    def proxy(self, ts: datetime, client: Host, user: str, method: str, target: str,
              status: int, size: int, agent: str, referer: str = "-") -> int:
        """A Squid access-log line (combined format) on PROXY01."""
        return self.book.add(PROXY, ts, combined_line(ts, client.ip, user, method, target,
                                                      status, size, referer, agent))

    def samba(self, ts: datetime, user: str, client: Host, share: str, op: str,
              *args: str) -> int:
        """A vfs_full_audit line of the Linux file server FS02."""
        return self.book.add(SAMBA, ts, samba_audit_line(ts, "fs02", user, client.ip,
                                                         client.name.lower(), share, op, args))


def public_ip(name: str) -> str:
    """A stable documentation-range address (RFC 5737) for an internet name."""
    h = hashlib.sha256(name.encode()).digest()
    net = ("203.0.113", "198.51.100")[h[0] % 2]
    return f"{net}.{10 + h[1] % 60}"
