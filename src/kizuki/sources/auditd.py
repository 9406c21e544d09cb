"""Linux audit logs (auditd's ``audit.log``): one event per audit record group (R9).

A syscall the kernel audits is written as several records that share one
``msg=audit(<epoch>.<ms>:<serial>)`` id: ``SYSCALL``, then ``EXECVE``, ``CWD``, ``PATH``
(one per path item), ``PROCTITLE``, and with newer auditd an ``EOE`` end marker.
Consecutive lines with the same id become ONE event; it is emitted when the id changes,
at ``EOE``, and at the end of the file. Accepted line forms: the raw log
(``type=SYSCALL msg=audit(...): ...``), with ``node=<host>`` in front, auditd's
enriched format (interpreted fields after a ``\\x1d`` byte: ``SYSCALL=execve
AUID="alice"``), and audit records carried in syslog (``audispd: type=...`` or the
kernel's ``audit: type=1300 audit(...)``).

Layout of ``original``, chosen so that SigmaHQ's ``linux/auditd`` rules run as written
(they test ``type: EXECVE`` with ``a0``/``a1``..., ``type: SYSCALL`` with ``exe``,
``comm``, ``key``, ``SYSCALL``, and ``type: PATH`` with ``name``):

- ``type``: the list of the event's record types in order, without repeats, e.g.
  ``["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]``; a rule's ``type: EXECVE``
  holds when the list contains it (a list-valued field matches when any item does).
- flat keys: the fields of all records, the first record to name a key wins, except
  that (1) when an ``EXECVE`` record exists its argv (``argc``, ``a0``..``aN``) is the
  only ``a<N>``: SYSCALL's raw register arguments then stay only under ``SYSCALL.a0``..
  (without EXECVE, e.g. ``personality``, SYSCALL's ``a0`` is flat, as
  ``lnx_auditd_disable_aslr_protection`` expects); (2) ``name`` is the list of all
  ``PATH`` names (item 0, 1, ...).
- per record: ``<TYPE>.<key>`` for the first record of a type and ``<TYPE>.<n>.<key>``
  for its n-th repeat (n from 1): ``SYSCALL.a0``, ``EXECVE.a1``, ``PATH.name``,
  ``PATH.1.name``. Nothing a record says is lost.
- values as meant, not as encoded: hex-encoded strings (``proctitle``, EXECVE arguments,
  also split ones ``a1[0]``.., ``comm``, ``exe``, ``name``, ``cwd``, ``acct``...) are
  decoded, ``proctitle``'s NUL separators become spaces; the ``msg='...'`` part of
  user-space records (``USER_LOGIN``, ``USER_CMD``...) is unpacked into keys; when the
  log is not enriched, ``SYSCALL`` (the syscall's name) is added for x86_64 from
  ``syscall``; ``msg`` is ``audit(<epoch>.<ms>:<serial>)``; ``node`` when present.

Normalized fields: ``process.pid``, ``process.parent.pid``, ``process.name`` (comm),
``process.executable`` (exe), ``process.args``/``process.args_count``/
``process.command_line`` (EXECVE, or USER_CMD's ``cmd``: what sudo ran, R9),
``process.title`` (proctitle), ``process.working_directory`` (CWD), ``user.id`` (uid),
``user.name`` (``acct`` of user-space records, else the enriched ``UID``),
``user.effective.id``, ``user.audit.id``/``user.audit.name`` (auid: the login behind
sudo/su), ``group.id``, ``host.name`` (node), ``event.sequence`` (serial),
``event.action`` (the syscall's name, else the record type in kebab case),
``event.category``/``event.type`` (exec, login, account and configuration records),
``event.outcome``, ``file.path`` (the non-PARENT PATH item of a file syscall),
``source.ip``. Logsource: product ``linux``, service ``auditd``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kizuki.errors import RecordError
from kizuki.model import Event, LogSource, Origin
from kizuki.sources.base import LineParser, ParseContext, SourceFile
from kizuki.sources.registry import register

_RECORD = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>\S+) (?:msg=)?audit\((?P<sec>\d+)\.(?P<ms>\d+)"
    r":(?P<serial>\d+)\): ?(?P<body>.*)\Z",
    re.S,
)
_SYSLOG_HOST = re.compile(
    r"(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) (\S+) ")
# key, then exactly one of: "double-quoted", 'single-quoted' (a nested msg), bare.
_KV = re.compile(r"([\w\-]+(?:\[\d+\])?)=(?:\"([^\"]*)\"|'([^']*)'|(\S*))")
_ARG = re.compile(r"a\d+")
_REGISTER_ARGS = ("a0", "a1", "a2", "a3")  # SYSCALL's raw syscall arguments
_ARG_CHUNK = re.compile(r"(a\d+)\[(\d+)\]")
_HEX = re.compile(r"(?:[0-9A-F]{2})+")
# Fields auditd writes with audit_log_untrustedstring: quoted, or hex when unsafe.
_HEX_KEYS = frozenset({
    "proctitle", "comm", "exe", "name", "cwd", "path", "cmd", "acct", "data", "key",
    "ocomm", "watch", "root_dir",
})
# Record types by number, for the kernel's printk form (``audit: type=1300 ...``).
_TYPE_NAMES = {
    "1100": "USER_AUTH", "1101": "USER_ACCT", "1105": "USER_START", "1106": "USER_END",
    "1112": "USER_LOGIN", "1123": "USER_CMD", "1300": "SYSCALL", "1302": "PATH",
    "1307": "CWD", "1309": "EXECVE", "1320": "EOE", "1327": "PROCTITLE", "1400": "AVC",
}
# x86_64 syscall numbers of the calls that security rules look at (arch=c000003e).
_X86_64_SYSCALLS = {
    "0": "read", "1": "write", "2": "open", "3": "close", "4": "stat", "9": "mmap",
    "10": "mprotect", "16": "ioctl", "21": "access", "41": "socket", "42": "connect",
    "43": "accept", "44": "sendto", "45": "recvfrom", "49": "bind", "50": "listen",
    "56": "clone", "57": "fork", "58": "vfork", "59": "execve", "60": "exit",
    "62": "kill", "76": "truncate", "77": "ftruncate", "80": "chdir", "82": "rename",
    "83": "mkdir", "84": "rmdir", "85": "creat", "86": "link", "87": "unlink",
    "88": "symlink", "89": "readlink", "90": "chmod", "91": "fchmod", "92": "chown",
    "93": "fchown", "94": "lchown", "101": "ptrace", "105": "setuid", "106": "setgid",
    "113": "setreuid", "114": "setregid", "117": "setresuid", "119": "setresgid",
    "135": "personality", "155": "pivot_root", "157": "prctl", "161": "chroot",
    "165": "mount", "166": "umount2", "169": "reboot", "175": "init_module",
    "176": "delete_module", "188": "setxattr", "189": "lsetxattr", "190": "fsetxattr",
    "200": "tkill", "234": "tgkill", "257": "openat", "258": "mkdirat", "259": "mknodat",
    "260": "fchownat", "263": "unlinkat", "264": "renameat", "265": "linkat",
    "266": "symlinkat", "268": "fchmodat", "269": "faccessat", "288": "accept4",
    "310": "process_vm_readv", "311": "process_vm_writev", "313": "finit_module",
    "316": "renameat2", "319": "memfd_create", "321": "bpf", "322": "execveat",
    "437": "openat2",
}
_EXEC_CALLS = frozenset({"execve", "execveat"})
# ECS category/type of record types that say what happened without a syscall.
_TYPE_CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "USER_AUTH": (["authentication"], ["start"]),
    "USER_LOGIN": (["authentication"], ["start"]),
    "USER_LOGOUT": (["authentication"], ["end"]),
    "USER_CMD": (["process"], ["start"]),
    "ADD_USER": (["iam"], ["user", "creation"]),
    "DEL_USER": (["iam"], ["user", "deletion"]),
    "ADD_GROUP": (["iam"], ["group", "creation"]),
    "DEL_GROUP": (["iam"], ["group", "deletion"]),
    "USER_MGMT": (["iam"], ["change"]),
    "USER_CHAUTHTOK": (["iam"], ["user", "change"]),
    "CONFIG_CHANGE": (["configuration"], ["change"]),
    "DAEMON_START": (["process"], ["start"]),
    "DAEMON_END": (["process"], ["end"]),
    "SERVICE_START": (["process"], ["start"]),
    "SERVICE_STOP": (["process"], ["end"]),
}
_OUTCOMES = {"yes": "success", "success": "success", "1": "success",
             "no": "failure", "failed": "failure", "0": "failure"}
_UNSET_ID = "4294967295"  # (uid_t)-1: no login user (daemons, failed logins)
_PATH_OBJECTS = frozenset({"NORMAL", "CREATE", "DELETE"})
_LOGSOURCE = LogSource("linux", "auditd")
_DATA_TYPE = "linux:auditd:event"


def _decode_hex(value: str) -> str:
    return bytes.fromhex(value).decode("utf-8", "replace")


def _fields(rtype: str, body: str) -> dict[str, Any]:
    """One record's ``key=value`` pairs, unquoted and decoded."""
    body, _, enriched = body.partition("\x1d")
    out: dict[str, Any] = {}
    chunks: dict[str, list[str]] = {}
    is_execve = rtype == "EXECVE"
    for key, quoted, nested, raw in _KV.findall(body):
        if not raw:  # quoted (or empty): taken as written
            if nested:  # user-space record: msg='op=... acct=... res=success'
                out.update(_fields("", nested))
            else:
                out[key] = quoted
            continue
        if is_execve:
            if (chunk := _ARG_CHUNK.fullmatch(key)) is not None:
                chunks.setdefault(chunk.group(1), []).append(raw)
                continue
            decodable = _ARG.fullmatch(key) is not None
        else:
            decodable = key in _HEX_KEYS
        if decodable and _HEX.fullmatch(raw):
            text = _decode_hex(raw)
            out[key] = text.replace("\x00", " ").rstrip() if key == "proctitle" else text
        else:
            out[key] = raw
    for key, parts in chunks.items():
        joined = "".join(parts)
        out[key] = _decode_hex(joined) if _HEX.fullmatch(joined) else joined
        out.pop(f"{key}_len", None)
    if enriched:
        for key, quoted, _nested, raw in _KV.findall(enriched):
            out[key] = raw or quoted
    return out


@dataclass(slots=True)
class _Group:
    """The records of one audit event, as read so far."""

    msg_id: str
    sec: str
    ms: str
    serial: str
    offset: int
    node: str | None
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass(slots=True)
class _State:
    current: _Group | None = None


@register
class AuditdParser(LineParser[_State]):
    """auditd's raw log (``/var/log/audit/audit.log``), records grouped into events."""

    NAME = "auditd"
    DESCRIPTION = "Linux auditd log; SYSCALL/EXECVE/PATH/... records grouped per event"

    def sniff(self, head: bytes, name: str) -> int:
        lines = [ln for ln in head[:8192].decode("utf-8", "replace").splitlines()[:12]
                 if ln.strip()]
        if len(head) > 8192 and len(lines) > 1:
            lines.pop()
        if not lines:
            return 0
        hits = [_RECORD.search(ln) for ln in lines]
        share = sum(1 for h in hits if h is not None) / len(lines)
        if share < 0.6:
            return 0
        # Raw audit.log is decisive; audit records inside syslog beat the syslog parsers.
        first = hits[0]
        return 90 if first is not None and first.start() == 0 else 85

    def new_state(self, source: SourceFile, ctx: ParseContext) -> _State:
        return _State()

    def parse_line(self, line: bytes, offset: int, state: _State, ctx: ParseContext
                   ) -> Event | None:
        text = line.decode("utf-8", "replace")
        m = _RECORD.search(text)
        if m is None:
            raise RecordError("not an audit record (no type=... msg=audit(...))",
                              kind="bad-audit-record")
        rtype, sec, ms, serial = m.group("type", "sec", "ms", "serial")
        rtype = _TYPE_NAMES.get(rtype, rtype)
        node = m.group("node")
        if node is None and m.start() > 0 and (h := _SYSLOG_HOST.match(text)) is not None:
            node = h.group(1)
        msg_id = f"{sec}.{ms}:{serial}"
        current = state.current
        done: _Group | None = None
        if current is not None and (current.msg_id != msg_id or rtype == "EOE"):
            done, current = current, None
        if rtype != "EOE":
            if current is None:
                current = _Group(msg_id, sec, ms, serial, offset, node)
            current.records.append((rtype, _fields(rtype, m.group("body"))))
        state.current = current
        return self._event(done, ctx) if done is not None else None

    def finish(self, state: _State, ctx: ParseContext) -> Iterator[Event]:
        if state.current is not None:
            group, state.current = state.current, None
            yield self._event(group, ctx)

    @staticmethod
    def _event(group: _Group, ctx: ParseContext) -> Event:
        records = group.records
        types: list[str] = []
        execve: dict[str, Any] | None = None
        names: list[Any] = []
        paths: list[dict[str, Any]] = []
        for rtype, rec in records:
            if rtype not in types:
                types.append(rtype)
            if rtype == "EXECVE" and execve is None:
                execve = rec
            elif rtype == "PATH":
                paths.append(rec)
                if "name" in rec:
                    names.append(rec["name"])
        original: dict[str, Any] = {"type": types, "msg": f"audit({group.msg_id})"}
        if group.node:
            original["node"] = group.node
        flat: dict[str, Any] = {}
        for _rtype, rec in reversed(records):  # merged backwards: the first record wins
            flat.update(rec)
        if execve is not None:  # argv is EXECVE's alone; SYSCALL's registers step aside
            for key in _REGISTER_ARGS:
                if key not in execve:
                    flat.pop(key, None)
            flat.update((k, v) for k, v in execve.items() if k[0] == "a")
        original.update(flat)
        if names:
            original["name"] = names
        if "SYSCALL" not in original and original.get("arch") == "c000003e" \
                and (call := _X86_64_SYSCALLS.get(original.get("syscall", ""))):
            original["SYSCALL"] = call
        seen: dict[str, int] = {}
        for rtype, rec in records:
            n = seen.get(rtype, 0)
            seen[rtype] = n + 1
            prefix = f"{rtype}." if n == 0 else f"{rtype}.{n}."
            original.update({prefix + key: value for key, value in rec.items()})
        fields, message = _normalize(original, types, execve, paths)
        try:
            when = datetime.fromtimestamp(int(group.sec), UTC).replace(
                microsecond=int(group.ms[:6].ljust(6, "0")))
        except (OverflowError, OSError, ValueError) as exc:
            ctx.warn(group.offset, "bad-timestamp", f"audit time {group.msg_id}: {exc}")
            when = datetime.fromtimestamp(0, UTC)
        fields["event.sequence"] = int(group.serial)
        if group.node:
            fields["host.name"] = group.node
        source = ctx.source
        return Event(
            timestamp=when,
            data_type=_DATA_TYPE,
            fields=fields,
            original=original,
            logsource=_LOGSOURCE,
            origin=Origin(source.path, group.offset, source.member),
            message=message,
        )


def _normalize(original: dict[str, Any], types: list[str], execve: dict[str, Any] | None,
               paths: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """ECS fields of a grouped event, and its one-line description."""
    fields: dict[str, Any] = {}
    get = original.get
    for key, name in (("pid", "process.pid"), ("ppid", "process.parent.pid")):
        value = get(key)
        if isinstance(value, str) and value.isdigit():
            fields[name] = int(value)
    for key, name in (("uid", "user.id"), ("euid", "user.effective.id"), ("auid", "user.audit.id"),
                      ("gid", "group.id"), ("comm", "process.name"),
                      ("exe", "process.executable"), ("cwd", "process.working_directory"),
                      ("proctitle", "process.title")):
        value = get(key)
        if value not in (None, "", "?", "(null)", _UNSET_ID):
            fields[name] = value
    # A user-space record's ``acct`` is the account acted on (the login's target).
    user = get("acct") or get("UID")
    if user not in (None, "", "?", "(unknown)"):
        fields["user.name"] = user
    if (auid := get("AUID")) not in (None, "unset"):
        fields["user.audit.name"] = auid
    addr = get("addr")
    if isinstance(addr, str) and addr not in ("", "?"):
        with contextlib.suppress(ValueError):
            fields["source.ip"] = str(ipaddress.ip_address(addr))
    outcome = _OUTCOMES.get(str(get("success") or get("res") or ""))
    if outcome:
        fields["event.outcome"] = outcome
    call = get("SYSCALL") if "SYSCALL" in types else None
    fields["event.action"] = str(call) if call else types[0].lower().replace("_", "-")
    command_line = None
    if execve is not None:
        args = [execve[k] for k in sorted((k for k in execve if _ARG.fullmatch(k)),
                                          key=lambda k: int(k[1:]))]
        command_line = " ".join(args)
        fields["process.args"] = args
        fields["process.args_count"] = len(args)
        fields["process.command_line"] = command_line
    elif isinstance(cmd := get("cmd"), str) and cmd:  # USER_CMD: what sudo ran (R9)
        command_line = cmd
        fields["process.command_line"] = cmd
    if call in _EXEC_CALLS:
        fields["event.category"], fields["event.type"] = ["process"], ["start"]
    elif (spec := _TYPE_CATEGORIES.get(types[0])) is not None:
        fields["event.category"], fields["event.type"] = list(spec[0]), list(spec[1])
    if paths and call not in _EXEC_CALLS:
        # The object of a file syscall is its non-PARENT item (PARENT is the folder).
        objects = [p for p in paths if p.get("nametype") in _PATH_OBJECTS] or paths
        target = objects[-1].get("name")
        if target not in (None, "(null)"):
            fields["file.path"] = target
    if command_line:
        message = command_line
    else:
        what = " ".join(f"{k}={get(k)}" for k in ("op", "acct", "exe", "res", "success")
                        if get(k) not in (None, "", "?"))
        if "file.path" in fields:
            what += f" path={fields['file.path']}"
        message = f"{types[0]} {call or ''} {what}".replace("  ", " ").strip()
    return fields, message
