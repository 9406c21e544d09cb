"""The HTML report: one self-contained file with a summary and each alert's timeline.

One file, nothing fetched: CSS and the few lines of script are inline, and a Content
Security Policy forbids loading anything else (the script is allowed by its hash only).
Everything that comes from logs, rules or the context — names, command lines, titles —
is attacker-controlled and goes through :func:`html.escape`; CSS class names are built
from known values only. ``meta charset=utf-8`` and a CJK-capable font stack render
Japanese text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from html import escape
from pathlib import Path
from typing import Any

from kizuki.model import Alert, AlertKind, Event
from kizuki.model.alert import SEVERITIES
from kizuki.report.common import SEVERITY_COLOURS, local, ordered, severity_rank, zone

#: Evidence rows shown per alert, and events in the optional event timeline.
MAX_EVIDENCE = 200
MAX_EVENTS = 5000

_CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem;color:var(--fg);background:var(--bg);font:14px/1.5 system-ui,
 -apple-system,"Segoe UI","Hiragino Sans","Hiragino Kaku Gothic ProN","Noto Sans CJK JP",
 "Noto Sans JP","Yu Gothic","Meiryo",sans-serif}
h1{margin:0 0 .25rem;font-size:1.5rem}
h2{margin:0;font-size:1.1rem}
.muted{color:var(--muted)}
section,article{background:#fff;border:1px solid var(--line);border-radius:8px;
 padding:1rem;margin:1rem 0}
article{border-left:6px solid var(--sev)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.2rem .5rem;border-bottom:1px solid var(--line);
 vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.85em}
td.num{text-align:right}
.badge{display:inline-block;padding:0 .5rem;border-radius:999px;color:#fff;
 background:var(--sev);font-size:.8em;font-weight:600;text-transform:uppercase}
.chips span{margin-right:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.75rem 0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.explanation{white-space:pre-wrap;background:var(--bg);padding:.5rem;border-radius:4px}
code,.src{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;
 overflow-wrap:anywhere}
svg{width:100%;height:auto;display:block;margin:.5rem 0}
svg text{font-size:12px;fill:var(--muted)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0}
tr.hit{background:#fef3c7}
.filters label{margin-right:1rem}
""" + "".join(f".sev-{s}{{--sev:{c}}}\n" for s, c in SEVERITY_COLOURS.items()) + \
    ".sev-unknown{--sev:#374151}\n"

# Hide the alerts of a severity when its box is unchecked.
_SCRIPT = (
    "document.querySelectorAll('input[data-sev]').forEach(function(box){"
    "box.addEventListener('change',function(){"
    "document.querySelectorAll('article.sev-'+box.dataset.sev).forEach(function(a){"
    "a.hidden=!box.checked;});});});"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_HIT = ' class="hit"'
_CSP = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'")


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _sev(severity: str) -> str:
    """A CSS class from a severity: only known names reach the markup."""
    return f"sev-{severity}" if severity in SEVERITIES else "sev-unknown"


def _attack_link(technique: str) -> str:
    # Only well-formed ids become links; anything else is shown as text.
    tid = technique.upper()
    base, _, sub = tid.partition(".")
    if base[:1] == "T" and base[1:].isdigit() and (not sub or sub.isdigit()):
        path = f"{base}/{sub}" if sub else base
        return (f'<a href="https://attack.mitre.org/techniques/{path}/" rel="noreferrer">'
                f"{_e(tid)}</a>")
    return _e(technique)


def _axis(times: Sequence[datetime], labels: Sequence[str], severities: Sequence[str],
          tz: tzinfo) -> str:
    """An SVG time axis with one numbered mark per time (tooltips carry the labels)."""
    if not times:
        return ""
    width, left, right = 1000, 30, 970
    t0, t1 = min(times), max(times)
    span = (t1 - t0).total_seconds()

    def x(t: datetime) -> float:
        if span <= 0:
            return (left + right) / 2
        return left + (right - left) * (t - t0).total_seconds() / span

    parts = [f'<svg viewBox="0 0 {width} 64" role="img" aria-label="timeline">',
             f'<line x1="{left}" y1="30" x2="{right}" y2="30" stroke="#9ca3af"/>']
    ticks = [t0] if span <= 0 else [t0, t0 + (t1 - t0) / 2, t1]
    for i, t in enumerate(ticks):
        anchor = "start" if i == 0 else "end" if i == len(ticks) - 1 else "middle"
        parts.append(f'<line x1="{x(t):.1f}" y1="26" x2="{x(t):.1f}" y2="34" '
                     f'stroke="#9ca3af"/><text x="{x(t):.1f}" y="54" '
                     f'text-anchor="{anchor}">{_e(local(t, tz))}</text>')
    for n, (t, label, sev) in enumerate(zip(times, labels, severities, strict=True), 1):
        colour = SEVERITY_COLOURS.get(sev, "#374151")
        parts.append(f'<g><title>{n}. {_e(local(t, tz))} {_e(label)}</title>'
                     f'<circle cx="{x(t):.1f}" cy="30" r="6" fill="{colour}" '
                     f'fill-opacity="0.8"/><text x="{x(t):.1f}" y="16" '
                     f'text-anchor="middle">{n}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _summary(alerts: Sequence[Alert], tz: tzinfo) -> str:
    by_sev = Counter(a.severity for a in alerts)
    by_kind = Counter(a.kind.value for a in alerts)
    sev_names = [*SEVERITIES[::-1], *sorted(s for s in by_sev if s not in SEVERITIES)]
    rows = "".join(
        f'<tr class="{_sev(s)}"><td><span class="badge">{_e(s)}</span></td>'
        f'<td class="num">{by_sev[s]}</td></tr>' for s in sev_names if by_sev[s])
    kinds = "".join(f'<tr><td>{_e(k.value)}</td><td class="num">{by_kind[k.value]}</td></tr>'
                    for k in AlertKind if by_kind[k.value])
    entities = Counter(f"{k}={v}" for a in alerts for k, v in sorted(a.entity.items()))
    top = "".join(f'<tr><td>{_e(name)}</td><td class="num">{n}</td></tr>'
                  for name, n in sorted(entities.items(), key=lambda i: (-i[1], i[0]))[:10])
    period = (f"{_e(local(min(a.first_seen for a in alerts), tz))} — "
              f"{_e(local(max(a.last_seen for a in alerts), tz))}") if alerts else "—"
    filters = "".join(
        f'<label><input type="checkbox" checked data-sev="{s}"> {s}</label>'
        for s in SEVERITIES[::-1] if by_sev[s])
    overview = _axis([a.first_seen for a in alerts], [f"{a.severity} {a.rule_title}"
                                                      for a in alerts],
                     [a.severity for a in alerts], tz)
    return (
        '<section class="summary"><h2>Summary</h2>'
        f'<p>{len(alerts)} alert(s) from {period}</p>'
        '<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));'
        'gap:1rem">'
        f'<table><tr><th>severity</th><th>alerts</th></tr>{rows}</table>'
        f'<table><tr><th>kind</th><th>alerts</th></tr>{kinds}</table>'
        f'<table><tr><th>entity</th><th>alerts</th></tr>{top}</table></div>'
        f'{overview}<p class="filters">Show: {filters}</p></section>'
    )


def _alert(alert: Alert, n: int, tz: tzinfo, evidence_hits: set[str]) -> str:
    entity = ", ".join(f"{k}={v}" for k, v in sorted(alert.entity.items()))
    attack = " ".join(_attack_link(t) for t in alert.attack) or "—"
    shown = alert.evidence[:MAX_EVIDENCE]
    rows = []
    for i, ev in enumerate(shown, 1):
        e = ev.event
        evidence_hits.add(e.origin.display)
        rows.append(
            f"<tr><td class=\"num\">{i}</td><td>{_e(local(e.timestamp, tz, micro=True))}</td>"
            f"<td>{_e(ev.stage)}</td><td>{_e(e.host)}</td><td>{_e(e.user)}</td>"
            f"<td>{_e(e.action or e.fields.get('event.code'))}</td>"
            f"<td>{_e(e.message or '')}</td>"
            f'<td class="src">{_e(e.origin.display)}</td></tr>')
    more = (f'<p class="muted">… {len(alert.evidence) - MAX_EVIDENCE} more event(s) in the '
            f"JSON-lines output</p>" if len(alert.evidence) > MAX_EVIDENCE else "")
    axis = _axis([ev.event.timestamp for ev in shown],
                 [f"{ev.stage or ''} {ev.event.action or ''}" for ev in shown],
                 [alert.severity] * len(shown), tz)
    context = (f"<details><summary>context</summary><pre>"
               f"{_e(json.dumps(alert.context, ensure_ascii=False, indent=2, default=str))}"
               f"</pre></details>") if alert.context else ""
    playbook = f"<dt>playbook</dt><dd>{_e(alert.playbook)}</dd>" if alert.playbook else ""
    return (
        f'<article class="alert {_sev(alert.severity)}" id="alert-{_e(alert.id)}">'
        f'<h2><span class="badge">{_e(alert.severity)}</span> {n}. {_e(alert.rule_title)}'
        f"</h2><dl>"
        f"<dt>id</dt><dd><code>{_e(alert.id)}</code></dd>"
        f"<dt>kind</dt><dd>{_e(alert.kind.value)}</dd>"
        f"<dt>rule</dt><dd><code>{_e(alert.rule_id)}</code></dd>"
        f"<dt>entity</dt><dd>{_e(entity) or '—'}</dd>"
        f"<dt>score</dt><dd>{alert.score:.1f}</dd>"
        f"<dt>seen</dt><dd>{_e(local(alert.first_seen, tz))} — "
        f"{_e(local(alert.last_seen, tz))}</dd>"
        f"<dt>ATT&amp;CK</dt><dd>{attack}"
        f"{' · ' + _e(', '.join(alert.tactics)) if alert.tactics else ''}</dd>"
        f"{playbook}</dl>"
        f'<div class="explanation">{_e(alert.explanation)}</div>'
        f"{axis}"
        "<table><tr><th>#</th><th>time</th><th>stage</th><th>host</th><th>user</th>"
        f"<th>action</th><th>message</th><th>source@offset</th></tr>{''.join(rows)}</table>"
        f"{more}{context}</article>"
    )


def _events(events: Sequence[Event], tz: tzinfo, hits: set[str]) -> str:
    shown = sorted(events, key=lambda e: (e.timestamp, e.origin.display))[:MAX_EVENTS]
    rows = "".join(
        f"<tr{_HIT if e.origin.display in hits else ''}>"
        f"<td>{_e(local(e.timestamp, tz, micro=True))}</td><td>{_e(e.host)}</td>"
        f"<td>{_e(e.user)}</td><td>{_e(e.action or e.fields.get('event.code'))}</td>"
        f"<td>{_e(e.message or '')}</td><td class=\"src\">{_e(e.origin.display)}</td></tr>"
        for e in shown)
    more = (f'<p class="muted">first {MAX_EVENTS} of {len(events)} events</p>'
            if len(events) > MAX_EVENTS else "")
    return ('<section class="events"><h2>Event timeline</h2>'
            '<p class="muted">highlighted: evidence of an alert</p>'
            "<table><tr><th>time</th><th>host</th><th>user</th><th>action</th>"
            f"<th>message</th><th>source@offset</th></tr>{rows}</table>{more}</section>")


def render_html(alerts: Iterable[Alert], tz: tzinfo | str | None = None,
                title: str = "Kizuki report", events: Iterable[Event] | None = None, *,
                generated: datetime | None = None) -> str:
    """The whole report as one HTML document (see the module doc).

    Alerts are shown most severe first, then in time order; ``events``, when given, add
    an event timeline with the alerts' evidence highlighted. ``generated`` is printed if
    given (the report never reads the clock, so the same input gives the same file).
    """
    zone_ = zone(tz)
    items = sorted(ordered(alerts), key=lambda a: -severity_rank(a.severity))
    hits: set[str] = set()
    body = [_alert(a, n, zone_, hits) for n, a in enumerate(items, 1)]
    timeline = _events(list(events), zone_, hits) if events is not None else ""
    stamp = f" · generated {_e(local(generated, zone_))}" if generated is not None else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<meta name="generator" content="kizuki"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="muted">times in {_e(zone_)}{stamp}</p>'
        f"</header>{_summary(items, zone_)}{''.join(body)}{timeline}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(alerts: Iterable[Alert], path: str | Path, tz: tzinfo | str | None = None,
               title: str = "Kizuki report", events: Iterable[Event] | None = None,
               **kwargs: Any) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(render_html(alerts, tz, title, events, **kwargs), encoding="utf-8")
    return target
