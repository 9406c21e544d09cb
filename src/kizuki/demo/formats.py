"""Renders records in each source's native text format, byte for byte as the tools write.

Formats: Winlogbeat 8 JSON lines (Security and Sysmon channels), rsyslog's traditional
file format (RFC 3164 stamp, local time, no year) carrying iptables kernel LOG lines and
Samba ``vfs_full_audit`` lines, the Apache/Squid combined access log, and Zeek's TSV
``dns.log``. Month names are spelled out here rather than with ``strftime("%b")``, whose
output depends on the locale.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kizuki.demo.logbook import Render
from kizuki.demo.world import TZ

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")

SECURITY = ("Security", "Microsoft-Windows-Security-Auditing",
            "{54849625-5478-4994-a5ba-3e3b0328c30d}")
SYSMON = ("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon",
          "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}")

#: Task (category) text Windows shows for each event id; Winlogbeat copies it into
#: ``event.action``.
_TASKS: dict[int, str] = {
    4624: "Logon", 4625: "Logon", 4634: "Logoff", 4672: "Special Logon",
    4663: "File System", 5145: "Detailed File Share", 4688: "Process Creation",
    4740: "User Account Management",
    1: "Process Create (rule: ProcessCreate)",
    3: "Network connection detected (rule: NetworkConnect)",
    22: "Dns query (rule: DnsQuery)",
}
_SYSTEM_USER = {"identifier": "S-1-5-18", "domain": "NT AUTHORITY", "name": "SYSTEM",
                "type": "User"}


def iso_z(ts: datetime) -> str:
    """UTC with milliseconds and ``Z``, as Winlogbeat writes ``@timestamp``."""
    u = ts.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def sysmon_utc(ts: datetime) -> str:
    """Sysmon's ``UtcTime`` field: ``2026-11-02 01:01:02.123``."""
    u = ts.astimezone(UTC)
    return u.strftime("%Y-%m-%d %H:%M:%S.") + f"{u.microsecond // 1000:03d}"


@dataclass(frozen=True, slots=True)
class WinEvent:
    """One Windows event as Winlogbeat 8 ships it; rendered once its record id is known."""

    ts: datetime
    computer: str  # FQDN, as in the event's System/Computer
    channel: tuple[str, str, str]  # (channel, provider, provider GUID)
    event_id: int
    event_data: dict[str, str]
    failure: bool = False

    def render(self, record_id: int) -> str:
        channel, provider, guid = self.channel
        code = str(self.event_id)
        task = _TASKS.get(self.event_id, "")
        event: dict[str, object] = {
            "code": code, "provider": provider, "kind": "event", "action": task,
        }
        winlog: dict[str, object] = {
            "api": "wineventlog",
            "channel": channel,
            "event_id": code,
            "provider_name": provider,
            "provider_guid": guid,
            "computer_name": self.computer,
            "record_id": record_id,
            "task": task,
            "opcode": "Info",
            "event_data": self.event_data,
        }
        if channel == "Security":
            event["outcome"] = "failure" if self.failure else "success"
            winlog["keywords"] = ["Audit Failure" if self.failure else "Audit Success"]
        else:
            winlog["user"] = _SYSTEM_USER
        doc = {
            "@timestamp": iso_z(self.ts),
            "agent": {"type": "winlogbeat", "version": "8.15.3"},
            "ecs": {"version": "8.0.0"},
            "event": event,
            "host": {"name": self.computer.split(".", 1)[0].lower()},
            "log": {"level": "information"},
            "winlog": winlog,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def win_render(ev: WinEvent) -> Render:
    """The render callback of a Windows event, for :meth:`Logbook.add`."""
    return ev.render


def syslog_prefix(ts: datetime, host: str, tag: str) -> str:
    """rsyslog's traditional file format: ``Nov  2 10:01:02 host tag:`` in local time."""
    t = ts.astimezone(TZ)
    return f"{_MONTHS[t.month - 1]} {t.day:>2} {t:%H:%M:%S} {host} {tag}:"


@dataclass(frozen=True, slots=True)
class Packet:
    """The fields of one iptables ``LOG`` line (an IPv4 packet)."""

    src: str
    dst: str
    proto: str  # TCP / UDP / ICMP
    sport: int
    dport: int
    ttl: int
    ip_id: int
    length: int = 60
    window: int = 64240


def iptables_line(ts: datetime, host: str, uptime: float, prefix: str, in_if: str,
                  out_if: str, mac: str, p: Packet) -> str:
    """A kernel ``LOG`` target line as rsyslog writes it to a file."""
    body = (f"{prefix}IN={in_if} OUT={out_if} MAC={mac} SRC={p.src} DST={p.dst} "
            f"LEN={p.length} TOS=0x00 PREC=0x00 TTL={p.ttl} ID={p.ip_id} ")
    if p.proto == "TCP":
        body += (f"DF PROTO=TCP SPT={p.sport} DPT={p.dport} WINDOW={p.window} RES=0x00 "
                 "SYN URGP=0")
    elif p.proto == "UDP":
        body += f"PROTO=UDP SPT={p.sport} DPT={p.dport} LEN={p.length - 20}"
    else:
        body += f"PROTO=ICMP TYPE=8 CODE=0 ID={p.sport} SEQ={p.dport}"
    return f"{syslog_prefix(ts, host, 'kernel')} [{uptime:12.6f}] {body}"


def samba_audit_line(ts: datetime, host: str, user: str, ip: str, machine: str,
                     share: str, op: str, args: Sequence[str], ok: bool = True) -> str:
    """A ``vfs_full_audit`` line with prefix ``%u|%I|%m|%S``, via syslog."""
    fields = [user, ip, machine, share, op, "ok" if ok else "fail", *args]
    return f"{syslog_prefix(ts, host, 'smbd_audit')} {'|'.join(fields)}"


def combined_line(ts: datetime, client: str, user: str, method: str, target: str,
                  status: int, size: int, referer: str, agent: str) -> str:
    """The combined log format, local time with its offset."""
    t = ts.astimezone(TZ)
    stamp = f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S} +0900"
    return (f'{client} - {user} [{stamp}] "{method} {target} HTTP/1.1" {status} {size} '
            f'"{referer}" "{agent}"')


ZEEK_DNS_FIELDS = (
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id",
    "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode", "rcode_name",
    "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected",
)
ZEEK_DNS_TYPES = (
    "time", "string", "addr", "port", "addr", "port", "enum", "count", "interval",
    "string", "count", "string", "count", "string", "count", "string", "bool", "bool",
    "bool", "bool", "count", "vector[string]", "vector[interval]", "bool",
)
_QTYPES = {"A": 1, "SRV": 33, "AAAA": 28, "PTR": 12}
_RCODES = {"NOERROR": 0, "NXDOMAIN": 3}


def zeek_stamp(ts: datetime) -> str:
    """Zeek's ``#open``/``#close`` stamp, in the sensor's local time (Asia/Tokyo)."""
    return ts.astimezone(TZ).strftime("%Y-%m-%d-%H-%M-%S")


def zeek_dns_header(opened: datetime) -> list[str]:
    """The header lines of a Zeek ASCII ``dns.log``."""
    return [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tdns",
        f"#open\t{zeek_stamp(opened)}",
        "#fields\t" + "\t".join(ZEEK_DNS_FIELDS),
        "#types\t" + "\t".join(ZEEK_DNS_TYPES),
    ]


def zeek_dns_line(ts: datetime, uid: str, orig: str, orig_port: int, resp: str,
                  trans_id: int, rtt: float, query: str, qtype: str, rcode: str,
                  answers: Sequence[str], ttl: int, authoritative: bool = False) -> str:
    """One ``dns.log`` record (UDP, class IN, recursion desired and available)."""
    fields = [
        f"{ts.timestamp():.6f}", uid, orig, str(orig_port), resp, "53", "udp",
        str(trans_id), f"{rtt:.6f}", query, "1", "C_INTERNET", str(_QTYPES[qtype]), qtype,
        str(_RCODES[rcode]), rcode, "T" if authoritative else "F", "F", "T", "T", "0",
        ",".join(answers) if answers else "-",
        ",".join(f"{ttl:.6f}" for _ in answers) if answers else "-",
        "F",
    ]
    return "\t".join(fields)
