"""JSON lines and CSV: one alert per line / row (docs/alerts.md lists every key and column).

JSON lines is :meth:`kizuki.model.Alert.to_dict`, unchanged: the documented contract
others rely on (issue 3, "Interfaces others rely on"). CSV flattens an alert to one row
for spreadsheets; text that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
``@`` first) is prefixed with ``'``, since log data is attacker-controlled (OWASP "CSV
injection").
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import orjson

from kizuki.model import Alert
from kizuki.model.event import format_ts


class TextWriter(Protocol):
    """Anything with ``write(str)``: an open text file, ``sys.stdout``, ``io.StringIO``."""

    def write(self, s: str, /) -> object: ...


#: The CSV header, in order.
CSV_COLUMNS = (
    "id", "kind", "rule_id", "rule_title", "severity", "score", "first_seen", "last_seen",
    "host", "user", "entity", "attack", "tactics", "evidence_count", "first_source",
    "first_offset", "playbook", "explanation",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _default(value: Any) -> Any:
    # Context values and original fields are whatever the sources produced: never fail
    # a report on one odd value.
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def alert_json(alert: Alert, *, full_events: bool = False) -> bytes:
    """One alert as compact JSON (UTF-8, no trailing newline)."""
    return orjson.dumps(alert.to_dict(full_events=full_events), default=_default,
                        option=orjson.OPT_NON_STR_KEYS)


def jsonl_writer(fh: TextWriter, *, full_events: bool = False) -> Callable[[Alert], None]:
    """A function that writes one alert as a JSON line to ``fh`` (for streaming hunts)."""

    def write(alert: Alert) -> None:
        fh.write(alert_json(alert, full_events=full_events).decode("utf-8"))
        fh.write("\n")

    return write


def write_jsonl(alerts: Iterable[Alert], fh: TextWriter, *, full_events: bool = False) -> int:
    """Write one JSON object per alert and line; ``full_events`` adds each whole event.

    Returns the number of alerts written.
    """
    write = jsonl_writer(fh, full_events=full_events)
    n = 0
    for alert in alerts:
        write(alert)
        n += 1
    return n


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def alert_row(alert: Alert) -> dict[str, str]:
    """The flat CSV row of an alert, keyed by :data:`CSV_COLUMNS`."""
    first = alert.evidence[0].event.origin if alert.evidence else None
    row = {
        "id": alert.id,
        "kind": alert.kind.value,
        "rule_id": alert.rule_id,
        "rule_title": alert.rule_title,
        "severity": alert.severity,
        "score": f"{alert.score:.2f}",
        "first_seen": format_ts(alert.first_seen),
        "last_seen": format_ts(alert.last_seen),
        "host": alert.entity.get("host", ""),
        "user": alert.entity.get("user", ""),
        "entity": ";".join(f"{k}={v}" for k, v in sorted(alert.entity.items())),
        "attack": ";".join(alert.attack),
        "tactics": ";".join(alert.tactics),
        "evidence_count": str(len(alert.evidence)),
        "first_source": (f"{first.path}!{first.member}" if first.member else first.path)
        if first is not None else "",
        "first_offset": str(first.offset) if first is not None and first.offset is not None
        else "",
        "playbook": alert.playbook or "",
        "explanation": alert.explanation,
    }
    return {k: _cell(v) for k, v in row.items()}


def csv_writer(fh: TextWriter) -> Callable[[Alert], None]:
    """Write the CSV header to ``fh`` now; return a function that writes one alert's row
    (for streaming hunts). Open ``fh`` with ``newline=""`` as the :mod:`csv` module asks."""
    writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()

    def write(alert: Alert) -> None:
        writer.writerow(alert_row(alert))

    return write


def write_csv(alerts: Iterable[Alert], fh: TextWriter) -> int:
    """Write a header and one row per alert (RFC 4180 quoting); returns the row count.

    Open ``fh`` with ``newline=""`` as the :mod:`csv` module asks.
    """
    write = csv_writer(fh)
    n = 0
    for alert in alerts:
        write(alert)
        n += 1
    return n
