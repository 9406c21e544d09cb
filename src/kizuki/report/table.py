"""The terminal timeline: alerts in time order, each followed by its evidence chain.

Every cell is a Rich ``Text`` built from plain strings, never markup: a user name such as
``[red]x[/red]`` in a log is shown as written, not interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo

from rich import box
from rich.table import Table
from rich.text import Text

from kizuki.model import Alert
from kizuki.report.common import SEVERITY_STYLES, local, ordered, zone


def _t(value: object, style: str = "") -> Text:
    return Text("" if value is None else str(value), style=style)


def render_table(alerts: Iterable[Alert], tz: tzinfo | str | None = None, *,
                 max_evidence: int = 20) -> Table:
    """A Rich table: one row per alert, then its evidence as indented rows.

    Times are shown in ``tz`` (default Asia/Tokyo); each evidence row shows the stage,
    host, user, action and ``source file@offset``. At most ``max_evidence`` evidence rows
    are shown per alert, then a count of the rest.
    """
    zone_ = zone(tz)
    items = ordered(alerts)
    table = Table(title=f"Kizuki alerts ({len(items)})", box=box.SIMPLE_HEAD,
                  caption=f"times in {zone_}", show_lines=False, expand=False)
    table.add_column("time")
    table.add_column("severity")
    table.add_column("kind")
    table.add_column("rule / stage", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("host")
    table.add_column("user")
    table.add_column("action")
    table.add_column("source", overflow="fold")
    for alert in items:
        style = SEVERITY_STYLES.get(alert.severity, "")
        table.add_row(
            _t(local(alert.first_seen, zone_), "bold"),
            _t(alert.severity, style),
            _t(alert.kind.value),
            _t(alert.rule_title, "bold"),
            _t(f"{alert.score:.1f}"),
            _t(alert.entity.get("host")),
            _t(alert.entity.get("user")),
            _t(" ".join(alert.attack), "cyan"),
            _t(f"{len(alert.evidence)} event(s) · {alert.id}", "dim"),
            end_section=not alert.evidence,
        )
        shown = alert.evidence[:max_evidence]
        for i, ev in enumerate(shown):
            e = ev.event
            last = i == len(shown) - 1 and len(alert.evidence) <= max_evidence
            table.add_row(
                _t(local(e.timestamp, zone_), "dim"),
                _t(""),
                _t(""),
                _t(f"  {'└' if last else '├'} {ev.stage or ''}"),
                _t(""),
                _t(e.host),
                _t(e.user),
                _t(e.action or e.fields.get("event.code")),
                _t(e.origin.display, "dim"),
                end_section=last,
            )
        if len(alert.evidence) > max_evidence:
            table.add_row(_t(""), _t(""), _t(""),
                          _t(f"  └ … {len(alert.evidence) - max_evidence} more", "dim"),
                          end_section=True)
    return table
