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


def _ip(text: str) -> str | None:
    # Most names are not addresses: skip the (slow) parse unless it could be one.
    if not text or not (text[0].isdigit() or ":" in text):
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
