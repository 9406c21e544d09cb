"""One spelling per entity, so that a chain follows a host or a user however logs write it.

Architecture "Entities": hosts compare case-insensitively and an FQDN equals its short
name (``WS-05.corp.example.jp`` is ``ws-05``); a user is one entity with or without its
domain (``CORP\\alice``, ``alice@corp.local``, ``alice``). Addresses keep their canonical
text form (``ipaddress``), so ``::FFFF:10.0.0.1`` and ``::ffff:a00:1`` are one address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

#: Values that logs write for "no value".
_EMPTY = frozenset({"", "-", "n/a", "null", "none"})


@lru_cache(maxsize=65536)
def host_key(name: str) -> str:
    """The comparable form of a host name: lower case, short name; addresses unchanged."""
    text = name.strip().rstrip(".").lower()
    ip = _ip(text)
    if ip is not None:
        return ip
    return text.split(".", 1)[0]


@lru_cache(maxsize=65536)
def user_key(name: str) -> str:
    """The comparable form of a user name: lower case, without ``DOMAIN\\`` or ``@realm``."""
    text = name.strip().lower()
    if "\\" in text:
        text = text.rsplit("\\", 1)[1]
    if "@" in text:
        text = text.split("@", 1)[0]
    return text


def ip_key(value: str) -> str:
    """The canonical text of an address, or the stripped text if it is not one."""
    text = value.strip()
    return _ip(text) or text.lower()


def entity_value(event: Any, field: str) -> str | None:
    """``event``'s value for ``field``, normalised for its kind (host, user or address).

    ``event`` is a :class:`kizuki.model.Event` (anything with ``get(name)``).
    """
    raw = event.get(field)
    if raw is None:
        return None
    text = str(raw)
    if text.strip().lower() in _EMPTY:
        return None
    if field == "host" or field.endswith(("host.name", "hostname", "Computer", "ComputerName",
                                                "WorkstationName")):
        return host_key(text)
    if field == "user" or field.endswith(("user.name", "UserName")):
        return user_key(text)
    if field == "ip" or field.endswith(".ip"):
        return ip_key(text)
    return text


_IP_FIELDS = ("IpAddress", "SourceAddress", "DestAddress", "SourceIp", "DestinationIp",
              "SRC", "DST", "ClientAddress")
_HOST_FIELDS = ("host.name", "hostname", "Computer", "ComputerName", "WorkstationName",
                "observer.name", "source.domain", "destination.domain")
#: Loopback address prefixes: an event names its own host by one of them.
LOOPBACK = ("127.", "::1")
#: Accounts that are no person: Windows' built-in service identities (by name, after
#: user_key drops ``NT AUTHORITY\``, or by SID) and the anonymous logon.
_SERVICE_ACCOUNTS = frozenset({
    "system", "local system", "localsystem", "local service", "localservice",
    "network service", "networkservice", "anonymous logon", "anonymous",
    "s-1-5-18", "s-1-5-19", "s-1-5-20", "s-1-5-7", "s-1-0-0",
})
_SERVICE_PREFIXES = ("dwm-", "umfd-")


def kind_of(field_name: str) -> str | None:
    """The entity kind a field holds: ``ip``, ``host``, ``user`` or None."""
    if field_name in ("ip", *_IP_FIELDS) or field_name.endswith(".ip"):
        return "ip"
    if field_name == "host" or field_name.endswith(_HOST_FIELDS):
        return "host"
    if field_name == "user" or field_name.endswith(("user.name", "UserName")):
        return "user"
    return None


def normal_key(kind: str | None, text: str) -> str:
    """``text`` in the one spelling of its kind (host, user or address key)."""
    if kind == "ip":
        return ip_key(text)
    if kind == "host":
        return host_key(text)
    if kind == "user":
        return user_key(text)
    return text.strip().lower()


def is_person(user: str) -> bool:
    """Whether a user name (as :func:`user_key` spells it) can be a person: not a
    machine account (``ws-07$``), not SYSTEM / LOCAL SERVICE / NETWORK SERVICE, their
    SIDs or the anonymous logon, not a DWM-n / UMFD-n virtual account."""
    return not (user.endswith("$") or user in _SERVICE_ACCOUNTS
                or user.startswith(_SERVICE_PREFIXES))


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def raw_value(event: Any, name: str) -> str | None:
    """``event``'s value for ``name`` as stripped text; None when absent, a list or
    object, or one of the ways logs write "no value"."""
    value = event.get(name)
    if value is None or isinstance(value, list | dict):
        return None
    text = str(value).strip()
    return None if text.lower() in _EMPTY else text


def _ip(text: str) -> str | None:
    # Most names are not addresses: skip the (slow) parse unless it could be one.
    if not text or not (text[0].isdigit() or ":" in text):
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
