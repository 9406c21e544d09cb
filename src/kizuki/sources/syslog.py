"""Syslog files and the daemons inside them: sshd, sudo, su, PAM (R5, R9), Samba audit (R7).

Envelopes. One line is one message; the ``<PRI>`` prefix is optional (rsyslog drops it
when it writes files, network captures keep it). Every parser here reads every form line
by line, because collectors mix them; the two registered parsers differ only in what
their ``sniff`` claims:

- ``syslog-rfc5424``: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD...] MSG``.
  Structured data is flattened into ``original`` as ``sd.<SD-ID>.<PARAM>``.
- ``syslog-rfc3164``: BSD syslog and rsyslog's traditional file format,
  ``Mar  4 01:02:03 host prog[pid]: msg``, and rsyslog's high-precision file format,
  ``2024-03-04T01:02:03.123456+09:00 host prog[pid]: msg``. RFC 3164 has no year and
  no zone: the time is read in ``settings.timezone``; the year is ``settings.year``,
  else the year of the file's mtime, else the current year — in the last two cases a
  month later than the reference month belongs to the year before (a December line
  in a file last written in January).

Every event keeps ``host.name``, ``process.name``, ``process.pid``, the priority
(``log.syslog.priority``, ``log.syslog.facility.code/name``,
``log.syslog.severity.code/name``) and the text as ``message``; ``original`` holds the
envelope as written (``pri``, ``timestamp``, ``hostname``, ``program``, ``pid``,
``msgid``, ``msg``) plus the content's own named fields (sudo's ``USER``, ``COMMAND``;
PAM's ``ruser``, ``rhost``...), so SigmaHQ rules such as the sudo CVE-2019-14287 rule
(``USER: '#-1'``) run as written.

Content. ``_PROGRAMS`` maps the program name to its Sigma logsource, its ``data_type``
and an enricher that adds ECS fields:

- ``sshd``: logins accepted/failed, invalid users, too many attempts, disconnects,
  PAM lines → logsource ``linux/sshd``, ``event.action`` ``ssh-login``,
  ``ssh-invalid-user``, ``ssh-max-auth-exceeded``, ``ssh-disconnect``,
  ``pam-auth-failure``, ``session-opened``/``session-closed``, with ``source.ip``/``port``;
- ``sudo``: ``alice : TTY=.. ; PWD=.. ; USER=root ; COMMAND=..`` and its refusals
  (``3 incorrect password attempts``, ``user NOT in sudoers``) → ``linux/sudo`` (R9);
- ``su`` (util-linux and shadow-utils forms) and PAM-only programs such as ``login``,
  ``pkexec`` → ``linux/auth``; ``cron`` → ``linux/cron``;
- ``smbd_audit`` / ``smbd``: Samba ``vfs_full_audit`` lines
  ``prefix|operation|ok or fail (reason)|arguments``. The prefix is read for the
  documented ``full_audit:prefix = %u|%I|%m|%S`` (user|client IP|client NetBIOS
  name|share), the module's built-in default ``%u|%I`` and ``%u|%I|%S``. Events get
  logsource product ``samba``, service ``full_audit``, category ``file_access``,
  ``event.category`` ``[file]``, ``event.action`` the VFS operation (``openat``,
  ``unlinkat``, ``renameat``, ``mkdirat``, ``create_file``...), ``file.share``,
  ``file.path`` (for ``renameat`` the old name; both names stay in ``original.args``).

Accounts: ``user.name`` is who acts, ``user.effective.name`` whom they act as (sudo's
``USER``, su's target, PAM's ``user`` when the caller differs). Samba's ``original``
names its parts ``user``, ``ip``, ``machine``, ``share``, ``operation``, ``result``,
``args`` (the line has no names of its own).

Any other program keeps its envelope with logsource ``linux/syslog``. Data types:
``syslog:linux:<sshd|sudo|su|auth|cron|line>``, ``syslog:samba:full_audit``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.sources.base import LineParser, ParseContext, SourceFile
from kizuki.sources.registry import register

# --- envelopes -------------------------------------------------------------------------

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
_RFC5424 = re.compile(
    _PRI + r"1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+)"
    r"(?: (?P<rest>.*))?\Z",
    re.S,
)
_BSD = re.compile(
    _PRI + r"(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    r"(?:\.(?P<frac>\d{1,6}))?(?: (?P<rest>.*))?\Z",
    re.S,
)
_ISO = re.compile(
    _PRI + r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
    r" (?P<rest>.*)\Z",
    re.S,
)
_TAG = re.compile(r"(?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>[^\]\s]*)\])?: ?(?P<msg>.*)\Z", re.S)
_SD_ELEMENT = re.compile(r'\[([^\s\]="]+)((?:\s+[^\s\]="]+="(?:[^"\\]|\\.)*")*)\s*\]')
_SD_PARAM = re.compile(r'([^\s\]="]+)="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r'\\(["\\\]])')
_REPEATED = re.compile(r"message repeated (\d+) times: \[\s*(.*?)\s*\]\Z", re.S)

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)
_SEVERITIES = (
    "Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
)
# The priority fields of every valid PRI, built once: the hot loop does one dict update.
_PRI_FIELDS: tuple[dict[str, Any], ...] = tuple(
    {
        "log.syslog.priority": pri,
        "log.syslog.facility.code": pri >> 3,
        "log.syslog.facility.name": _FACILITIES[pri >> 3],
        "log.syslog.severity.code": pri & 7,
        "log.syslog.severity.name": _SEVERITIES[pri & 7],
    }
    for pri in range(192)
)

# --- content ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a message is: its namespaced data type and its Sigma logsource."""

    data_type: str
    logsource: LogSource


Enricher = Callable[[str, dict[str, Any], dict[str, Any]], "_Kind | None"]

_GENERIC = _Kind("syslog:linux:line", LogSource("linux", "syslog"))
_SSHD = _Kind("syslog:linux:sshd", LogSource("linux", "sshd"))
_SUDO = _Kind("syslog:linux:sudo", LogSource("linux", "sudo"))
_SU = _Kind("syslog:linux:su", LogSource("linux", "auth"))
_AUTH = _Kind("syslog:linux:auth", LogSource("linux", "auth"))
_CRON = _Kind("syslog:linux:cron", LogSource("linux", "cron"))
_FULL_AUDIT = _Kind("syslog:samba:full_audit", LogSource("samba", "full_audit", "file_access"))

_SSH_AUTH = re.compile(
    r"(Accepted|Failed|Postponed|Partial) (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)")
_SSH_INVALID = re.compile(r"Invalid user (.*?) from (\S+)(?: port (\d+))?")
_SSH_CLOSED = re.compile(
    r"(?:Connection closed by|Disconnected from|Disconnecting) "
    r"(?:(?:authenticating |invalid )?user (.*?) )?(\S+) port (\d+)")
_SSH_MAXAUTH = re.compile(
    r"error: maximum authentication attempts exceeded for (invalid user )?(.*?) "
    r"from (\S+) port (\d+)")
_SSH_RECEIVED = re.compile(r"Received disconnect from (\S+) port (\d+)")
_PAM = re.compile(r"pam_[\w-]+\([\w.-]+:\w+\): (.*)", re.S)
_PAM_SESSION = re.compile(
    r"session (opened|closed) for user ([^\s(]+)(?:\(uid=\d+\))?(?: by ([^\s(]*)(?:\(uid=\d+\))?)?")
_KV = re.compile(r"(\w+)=(\S*)")
_SUDO_LINE = re.compile(r"\s*(\S+) : (.*)", re.S)
_SU_UTIL = re.compile(r"(FAILED SU )?\(to (\S+)\) (\S+) on (\S+)")
_SU_SHADOW = re.compile(r"(Successful|FAILED) su for (\S+) by (\S+)")

_AUTH_START = {"event.category": ["authentication"], "event.type": ["start"]}
_SESSION_TYPES = {"opened": ["start"], "closed": ["end"]}
# Where vfs_full_audit puts the path among an operation's arguments (default: first).
_SMB_PATH_ARG = {"openat": 1, "open": 1, "create_file": 3}
_SMB_NO_PATH = frozenset({"connect", "disconnect", "disk_free", "readdir", "closedir"})
_SMB_TYPES = {
    "mkdirat": ["creation"], "symlinkat": ["creation"], "linkat": ["creation"],
    "mknodat": ["creation"], "unlinkat": ["deletion"], "renameat": ["change"],
    "chmod": ["change"], "fchmod": ["change"], "fchown": ["change"], "lchown": ["change"],
    "ntimes": ["change"], "ftruncate": ["change"], "fset_nt_acl": ["change"],
    "pwrite": ["change"], "pwrite_send": ["change"], "write": ["change"],
}
_SMB_CREATING = frozenset({"create", "overwrite", "overwrite_if", "supersede"})


@lru_cache(maxsize=8192)
def _address_field(addr: str) -> tuple[str, str]:
    """``source.ip`` for an address, ``source.domain`` for a name (sshd with UseDNS).

    Cached: the same few peers fill an auth log, and ``ipaddress`` is slow."""
    try:
        return "source.ip", str(ipaddress.ip_address(addr))
    except ValueError:
        return "source.domain", addr


def _set_source(fields: dict[str, Any], addr: str | None, port: str | None = None) -> None:
    if addr:
        name, value = _address_field(addr)
        fields[name] = value
    if port:
        fields["source.port"] = int(port)


def _set_users(fields: dict[str, Any], actor: str | None, target: str | None) -> None:
    """The acting account in ``user.name``; the one acted as in ``user.effective.name``."""
    actor = actor or target
    if actor:
        fields["user.name"] = actor
    if target and target != actor:
        fields["user.effective.name"] = target


def _pam(msg: str, fields: dict[str, Any], original: dict[str, Any]) -> _Kind | None:
    """PAM lines (``pam_unix(svc:type): ...``): authentication failures and sessions."""
    m = _PAM.match(msg)
    if m is None:
        return None
    text = m.group(1)
    if text.startswith("authentication failure"):
        kv = dict(_KV.findall(text))
        original.update(kv)
        # PAM's ``user`` is the account being authenticated; ``ruser``/``logname`` the
        # caller (su: alice asks for root; sshd: nobody local, so the account itself).
        _set_users(fields, kv.get("ruser") or kv.get("logname"), kv.get("user"))
        _set_source(fields, kv.get("rhost"))
        fields.update(_AUTH_START)
        fields["event.action"] = "pam-auth-failure"
        fields["event.outcome"] = "failure"
    elif s := _PAM_SESSION.match(text):
        state, target, by = s.groups()
        _set_users(fields, by, target)
        fields["event.category"] = ["session"]
        fields["event.type"] = _SESSION_TYPES[state]
        fields["event.action"] = f"session-{state}"
        fields["event.outcome"] = "success"
    return None


def _sshd(msg: str, fields: dict[str, Any], original: dict[str, Any]) -> _Kind | None:
    """OpenSSH's own log lines (``auth2.c``, ``sshd.c``) and its PAM lines."""
    if msg.startswith("pam_"):
        return _pam(msg, fields, original)
    if m := _SSH_AUTH.match(msg):
        result, method, _invalid, user, addr, port = m.groups()
        original["method"] = method
        fields.update(_AUTH_START)
        if result in ("Accepted", "Failed"):
            fields["event.action"] = "ssh-login"
            fields["event.outcome"] = "success" if result == "Accepted" else "failure"
        else:
            fields["event.action"] = "ssh-login-partial"
    elif m := _SSH_INVALID.match(msg):
        user, addr, port = m.groups()
        fields.update(_AUTH_START)
        fields["event.action"] = "ssh-invalid-user"
        fields["event.outcome"] = "failure"
    elif m := _SSH_MAXAUTH.match(msg):
        _invalid, user, addr, port = m.groups()
        fields.update(_AUTH_START)
        fields["event.action"] = "ssh-max-auth-exceeded"
        fields["event.outcome"] = "failure"
    elif m := _SSH_CLOSED.match(msg):
        user, addr, port = m.groups()
        fields["event.category"] = ["session"]
        fields["event.type"] = ["end"]
        fields["event.action"] = "ssh-disconnect"
    elif m := _SSH_RECEIVED.match(msg):
        _set_source(fields, m.group(1), m.group(2))
        return None
    else:
        return None
    if user:
        fields["user.name"] = user
    _set_source(fields, addr, port)
    return None


def _sudo(msg: str, fields: dict[str, Any], original: dict[str, Any]) -> _Kind | None:
    """sudo's ``user : [reason ; ]TTY=.. ; PWD=.. ; USER=.. ; COMMAND=..`` lines (R9)."""
    if msg.startswith("pam_"):
        return _pam(msg, fields, original)
    m = _SUDO_LINE.match(msg)
    if m is None:
        return None
    user, rest = m.groups()
    # COMMAND comes last and may itself contain " ; ": split it off before the rest.
    command: str | None
    if rest.startswith("COMMAND="):
        head, command = "", rest[8:]
    elif (at := rest.find(" ; COMMAND=")) >= 0:
        head, command = rest[:at], rest[at + 11:]
    else:
        head, command = rest, None
    reason = None
    for part in head.split(" ; "):
        key, eq, value = part.strip().partition("=")
        if eq and key.isupper():
            original[key] = value
        elif key and reason is None:
            reason = key
    fields["user.name"] = user
    if "USER" in original:
        fields["user.effective.name"] = original["USER"]
    if "PWD" in original:
        fields["process.working_directory"] = original["PWD"]
    if command is not None:
        original["COMMAND"] = command
        fields["process.command_line"] = command
        fields["process.executable"] = command.split(" ", 1)[0]
    fields["event.action"] = "sudo-command"
    if reason is None:
        fields["event.category"] = ["process"]
        fields["event.outcome"] = "success"
    else:
        fields["event.category"] = (
            ["process", "authentication"] if "password" in reason else ["process"])
        fields["event.outcome"] = "failure"
        fields["event.reason"] = reason
    fields["event.type"] = ["start"]
    return None


def _su(msg: str, fields: dict[str, Any], original: dict[str, Any]) -> _Kind | None:
    """su: util-linux ``(to root) alice on pts/0``, shadow-utils ``Successful su for``."""
    if msg.startswith("pam_"):
        return _pam(msg, fields, original)
    if m := _SU_UTIL.match(msg):
        failed, target, actor = m.group(1) is not None, m.group(2), m.group(3)
    elif m := _SU_SHADOW.match(msg):
        failed, target, actor = m.group(1) == "FAILED", m.group(2), m.group(3)
    else:
        return None
    _set_users(fields, actor, target)
    fields.update(_AUTH_START)
    fields["event.action"] = "su"
    fields["event.outcome"] = "failure" if failed else "success"
    return None


def _full_audit(msg: str, fields: dict[str, Any], original: dict[str, Any]) -> _Kind | None:
    """Samba ``vfs_full_audit``: ``prefix|operation|ok or fail (reason)|args`` (R7)."""
    parts = msg.rstrip("\n").split("|")
    # The operation is the field before "ok"/"fail (...)"; the prefix is what precedes.
    for i in range(2, min(len(parts) - 1, 6)):
        status = parts[i + 1]
        if (status == "ok" or status.startswith("fail")) and parts[i].replace("_", "").isalpha():
            break
    else:
        return _GENERIC
    op, args = parts[i], parts[i + 2:]
    user, ip = parts[0], parts[1]
    machine = parts[2] if i == 4 else None
    share = parts[3] if i == 4 else parts[2] if i == 3 else None
    original.update(user=user, ip=ip, operation=op, result=status, args=args)
    if machine:
        original["machine"] = machine
        fields["source.domain"] = machine
    if share:
        original["share"] = share
        fields["file.share"] = share
    if user:
        fields["user.name"] = user
    _set_source(fields, ip)
    if op in _SMB_NO_PATH:
        if args and args[0] and op in ("connect", "disconnect"):
            fields.setdefault("file.share", args[0])
    else:
        idx = _SMB_PATH_ARG.get(op, 0)
        if idx < len(args) and args[idx]:
            fields["file.path"] = args[idx]
            fields["file.name"] = args[idx].rstrip("/").rsplit("/", 1)[-1]
    fields["event.category"] = ["file"]
    if op == "create_file" and len(args) > 2 and args[2] in _SMB_CREATING:
        fields["event.type"] = ["creation"]
    else:
        fields["event.type"] = _SMB_TYPES.get(op, ["access"])
    fields["event.action"] = op
    if status == "ok":
        fields["event.outcome"] = "success"
    else:
        fields["event.outcome"] = "failure"
        if status.startswith("fail (") and status.endswith(")"):
            fields["event.reason"] = status[6:-1]
    return _FULL_AUDIT


_PROGRAMS: dict[str, tuple[_Kind, Enricher | None]] = {
    "sshd": (_SSHD, _sshd),
    "sshd-session": (_SSHD, _sshd),  # OpenSSH 9.8+ logs authentication from here
    "sudo": (_SUDO, _sudo),
    "su": (_SU, _su),
    "smbd_audit": (_FULL_AUDIT, _full_audit),
    "smbd": (_GENERIC, _full_audit),
    "cron": (_CRON, _pam), "CRON": (_CRON, _pam), "crond": (_CRON, _pam),
    "login": (_AUTH, _pam), "pkexec": (_AUTH, _pam), "polkitd": (_AUTH, _pam),
    "passwd": (_AUTH, _pam), "chpasswd": (_AUTH, _pam), "systemd-logind": (_AUTH, None),
    "useradd": (_AUTH, None), "usermod": (_AUTH, None), "userdel": (_AUTH, None),
    "groupadd": (_AUTH, None), "gpasswd": (_AUTH, None),
    "vsftpd": (_Kind("syslog:linux:vsftpd", LogSource("linux", "vsftpd")), _pam),
    "clamd": (_Kind("syslog:linux:clamav", LogSource("linux", "clamav")), None),
}

# --- parsers ---------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    """Per-file reading state: the zone, the year rule, a one-entry timestamp cache."""

    tz: tzinfo
    year: int
    month: int  # lines of a later month belong to ``year - 1``; 12 never rolls over
    fallback: datetime | None
    last_key: tuple[str | None, ...] = ()
    last_ts: datetime | None = None


def _split_host_tag(rest: str) -> tuple[str | None, str | None, str | None, str]:
    """``host prog[pid]: msg`` → host, program, pid, message (host or tag may lack)."""
    first, _, after = rest.partition(" ")
    host: str | None
    if first.endswith(":"):  # no hostname: a local sender wrote the tag right away
        host, after = None, rest
    else:
        host = first or None
    m = _TAG.match(after)
    if m is None:
        return host, None, None, after
    return host, m.group("prog"), m.group("pid"), m.group("msg")


def _structured(rest: str | None, original: dict[str, Any]) -> str:
    """Flatten RFC 5424 structured data into ``sd.<id>.<param>``; return the MSG."""
    if not rest:
        return ""
    pos = 1 if rest[0] == "-" else 0
    while rest.startswith("[", pos):
        m = _SD_ELEMENT.match(rest, pos)
        if m is None:
            raise RecordError("malformed RFC 5424 structured data", kind="bad-structured-data")
        sd_id = m.group(1)
        for name, value in _SD_PARAM.findall(m.group(2)):
            original[f"sd.{sd_id}.{name}"] = _SD_ESCAPE.sub(r"\1", value) if "\\" in value \
                else value
        pos = m.end()
    msg = rest[pos:]
    if msg.startswith(" "):
        msg = msg[1:]
    return msg[1:] if msg.startswith("\ufeff") else msg


class _SyslogParser(LineParser[_State]):
    """The shared line reader of both syslog parsers (the envelope is detected per line)."""

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _State:
        tz = ctx.settings.tz
        fallback = source.mtime
        if ctx.settings.year is not None:
            return _State(tz, ctx.settings.year, 12, fallback)
        ref = (source.mtime or datetime.now(UTC)).astimezone(tz)
        return _State(tz, ref.year, ref.month, fallback)

    def parse_line(self, line: bytes, offset: int, state: _State, ctx: ParseContext
                   ) -> Event | None:
        text = line.decode("utf-8", "replace")
        original: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        if (m := _BSD.match(text)) is not None:
            when = self._bsd_time(m, state)
            host, prog, pid, msg = _split_host_tag(m.group("rest") or "")
            original["timestamp"] = text[m.start("mon"):m.end("frac") if m.group("frac")
                                         else m.end("s")]
        elif (m := _RFC5424.match(text)) is not None:
            ts, host, prog, pid, msgid = (v if v != "-" else None for v in m.group(
                "ts", "host", "app", "procid", "msgid"))
            when = self._iso_time(ts, state)
            msg = _structured(m.group("rest"), original)
            fields["log.syslog.version"] = "1"
            if ts:
                original["timestamp"] = ts
            if msgid:
                original["msgid"] = msgid
                fields["log.syslog.msgid"] = msgid
        elif (m := _ISO.match(text)) is not None:
            when = self._iso_time(m.group("ts"), state)
            original["timestamp"] = m.group("ts")
            host, prog, pid, msg = _split_host_tag(m.group("rest"))
        else:
            raise RecordError("not a syslog line (no RFC 3164/5424 header)", kind="bad-syslog")
        if (pri := m.group("pri")) is not None:
            if int(pri) > 191:
                raise RecordError(f"syslog priority {pri} out of range", kind="bad-syslog")
            original["pri"] = pri
            fields.update(_PRI_FIELDS[int(pri)])
        if host:
            original["hostname"] = host
            fields["host.name"] = host
        if pid:
            original["pid"] = pid
            if pid.isdigit():
                fields["process.pid"] = int(pid)
        original["msg"] = msg
        kind = _GENERIC
        if prog:
            original["program"] = prog
            fields["process.name"] = prog
            found = _PROGRAMS.get(prog)
            if found is not None:
                kind, enrich = found
                if enrich is not None:
                    content = msg
                    if content.startswith("message repeated ") and (
                            r := _REPEATED.match(content)):
                        # rsyslog's repeat reduction wraps the real text; read the text.
                        original["repeated"] = int(r.group(1))
                        content = r.group(2)
                    kind = enrich(content, fields, original) or kind
        source = ctx.source
        return Event(
            timestamp=when,
            data_type=kind.data_type,
            fields=fields,
            original=original,
            logsource=kind.logsource,
            origin=Origin(source.path, offset, source.member),
            message=msg,
        )

    @staticmethod
    def _bsd_time(m: re.Match[str], state: _State) -> datetime:
        key = m.group("mon", "day", "h", "mi", "s", "frac")
        if key == state.last_key and state.last_ts is not None:
            return state.last_ts
        month = _MONTHS.get(key[0] or "")
        if month is None:
            raise RecordError(f"unknown month {key[0]!r}", kind="bad-timestamp")
        year = state.year - 1 if month > state.month else state.year
        frac = key[5]
        try:
            local = datetime(year, month, int(key[1] or 0), int(key[2] or 0), int(key[3] or 0),
                             int(key[4] or 0), int(frac.ljust(6, "0")) if frac else 0,
                             tzinfo=state.tz)
        except ValueError as exc:
            raise RecordError(f"invalid date: {exc}", kind="bad-timestamp") from None
        when = local.astimezone(UTC)
        state.last_key, state.last_ts = key, when
        return when

    @staticmethod
    def _iso_time(ts: str | None, state: _State) -> datetime:
        if ts is None:  # RFC 5424 NILVALUE: the file's time is the best we know
            if state.fallback is None:
                raise RecordError("message without a timestamp", kind="bad-timestamp")
            return state.fallback.astimezone(UTC)
        try:
            when = datetime.fromisoformat(ts)
        except ValueError as exc:
            raise RecordError(f"invalid timestamp {ts!r}: {exc}", kind="bad-timestamp") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=state.tz)
        return when.astimezone(UTC)


_SNIFF_5424 = re.compile(r"(?:<\d{1,3}>)?1 (?:\d{4}-\d\d-\d\dT\S+|-) \S+ \S+ \S+ \S+ [-\[]")
_SNIFF_BSD = re.compile(r"(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")
_SNIFF_ISO = re.compile(
    r"(?:<\d{1,3}>)?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ [^\s\[\]:]+(?:\[\d+\])?: ")


def _share(head: bytes, pattern: re.Pattern[str]) -> float:
    """The share of the first lines of ``head`` that ``pattern`` matches (0 unless the
    first line does)."""
    lines = [ln for ln in head[:8192].decode("utf-8", "replace").splitlines()[:12] if ln.strip()]
    if len(head) > 8192 and len(lines) > 1:
        lines.pop()  # cut at the 8 KiB mark
    if not lines or not pattern.match(lines[0]):
        return 0.0
    return sum(1 for ln in lines if pattern.match(ln)) / len(lines)


@register
class Rfc5424Parser(_SyslogParser):
    """RFC 5424 syslog, with or without ``<PRI>`` (``logger --rfc5424``, rsyslog
    ``RSYSLOG_SyslogProtocol23Format``)."""

    NAME = "syslog-rfc5424"
    DESCRIPTION = "Syslog RFC 5424 (structured data flattened); sshd, sudo, su, Samba audit"

    def sniff(self, head: bytes, name: str) -> int:
        return 80 if _share(head, _SNIFF_5424) >= 0.6 else 0


@register
class Rfc3164Parser(_SyslogParser):
    """BSD syslog (RFC 3164) and rsyslog's traditional and high-precision file formats."""

    NAME = "syslog-rfc3164"
    DESCRIPTION = (
        "Syslog RFC 3164 / rsyslog file formats (auth.log, messages); sshd, sudo, su, "
        "Samba audit")

    def sniff(self, head: bytes, name: str) -> int:
        # Plausible rather than decisive: a parser for one program's lines inside a
        # syslog file (firewall, audit) should win over the generic envelope.
        if _share(head, _SNIFF_BSD) >= 0.6:
            return 60
        return 50 if _share(head, _SNIFF_ISO) >= 0.6 else 0
