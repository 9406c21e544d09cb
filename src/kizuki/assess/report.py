"""The ``kizuki eval`` report, as Markdown or as one self-contained HTML page.

Both are rendered from the same sections (title, sentences, one table), so they say the
same. File names, rule titles and explanations come from data that others wrote:
Markdown cells are escaped for tables and inline HTML, and the HTML page escapes
everything it shows.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from kizuki.assess.evaluate import Evaluation
from kizuki.model.alert import SEVERITIES

TITLE = "Kizuki detection evaluation"


@dataclass
class Section:
    """A heading, a few sentences and at most one table."""

    title: str
    text: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100.0 * n / d:.1f}%)" if d else "n/a (nothing labelled)"


def _sev(counts: dict[str, int]) -> str:
    return ", ".join(f"{s} {counts[s]}" for s in reversed(SEVERITIES) if counts.get(s))


def sections(ev: Evaluation) -> list[Section]:
    """The report's content, in order."""
    lib = ev.library
    pairs_found, pairs_total = ev.pairs()
    labelled = [f for f in ev.files if f.label.techniques]
    benign = [f for f in ev.files if f.label.benign]
    out = [Section("Summary", [
        f"Data: {', '.join(ev.datasets)}; labels: {', '.join(ev.labels)}.",
        f"Library: {len(lib.rules)} rules, {len(lib.correlations)} correlations, "
        f"{len(lib.scenarios)} scenarios from {', '.join(lib.paths) or '(none)'}"
        f" ({len(lib.errors)} could not be loaded).",
        f"Files: {len(ev.files)} read ({len(labelled)} with technique labels, "
        f"{len(benign)} benign background, {len(ev.files) - len(labelled) - len(benign)} "
        f"other); {len(ev.missing)} labelled files not on disk.",
        f"**Technique-level detection rate: {_pct(ev.detected, len(ev.techniques))}** "
        f"(a technique counts when an alert carrying it, its parent or a sub-technique "
        f"fires on a file labelled with it).",
        f"(file, technique) pairs detected: {_pct(pairs_found, pairs_total)}.",
    ])]
    out.append(Section(
        "Per data set", [],
        ["set", "files", "techniques detected", "rate"],
        [[g, str(n), f"{d}/{t}", _pct(d, t)] for g, n, d, t in ev.groups()]))
    reasons = ev.reasons()
    out.append(Section(
        "Misses by reason", [],
        ["reason", "techniques"],
        [[r, str(reasons[r])] for r in ("no log source", "no rule yet", "rule too narrow")]))
    out.append(Section(
        "Missed techniques", ["Every labelled technique no alert detected, with the reason."],
        ["technique", "reason", "detail", "files"],
        [[t.technique, str(t.reason), t.detail, "; ".join(t.files)]
         for t in ev.techniques if not t.detected]))
    out.append(Section(
        "Detected techniques", [],
        ["technique", "files detected", "by"],
        [[t.technique, f"{len(t.detected_in)}/{len(t.files)}", "; ".join(t.by[:5])]
         for t in ev.techniques if t.detected]))
    out.append(Section(
        "Benign files: high and critical alerts",
        ["Files labelled benign-background (mostly normal activity). Every high or critical "
         "alert is listed; the explanation column says whether it is a true or a false "
         "positive (merged from --explanations)."],
        ["file", "rule", "severity", "alerts", "verdict", "explanation"],
        [[b.file, f"{b.rule_title} ({b.rule_id})", b.severity, str(b.count), b.verdict,
          b.explanation] for b in ev.benign]))
    out.append(Section(
        "Benign files: all alerts", [],
        ["file", "events", "alerts", "by severity", "top rules"],
        [[f.label.name, str(f.events), str(len(f.alerts)), _sev(dict(f.severities())),
          "; ".join(f"{r} ×{n}" for r, n in f.top_rules())] for f in benign]))
    out.append(Section(
        "Scenarios", ["What each scenario found (scenarios that raised no alert are not "
                      "listed)."],
        ["scenario", "title", "alerts", "files"],
        [[sid, title, str(n), "; ".join(names)] for sid, title, n, names in
         ev.scenario_alerts()]))
    rows = []
    for f in ev.files:
        missed = "; ".join(f"{t} ({m.reason})" for t, m in f.misses.items())
        rows.append([f.label.name, f.label.group, str(f.events),
                     ", ".join(sorted(f.label.techniques)) or "; ".join(f.label.notes),
                     ", ".join(f.detected), missed, str(len(f.alerts)),
                     _sev(dict(f.severities())),
                     "; ".join(f"{r} ×{n}" for r, n in f.top_rules()),
                     f.error or ""])
    out.append(Section("Files", [], ["file", "set", "events", "labels", "detected", "missed",
                                     "alerts", "by severity", "top rules", "error"], rows))
    if ev.missing:
        out.append(Section("Labelled files not on disk", [], ["file"],
                           [[lb.name] for lb in ev.missing]))
    return out


# --------------------------------------------------------------------------- Markdown
def _md(text: str) -> str:
    """A table cell: no line breaks, no pipes, no inline HTML."""
    t = " ".join(str(text).split())
    return (t.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;"))


def render_markdown(parts: list[Section], title: str = TITLE) -> str:
    lines = [f"# {title}", ""]
    for s in parts:
        lines += [f"## {s.title}", ""]
        for t in s.text:
            lines += [" ".join(t.replace("<", "&lt;").split()), ""]
        if s.headers:
            if not s.rows:
                lines += ["(none)", ""]
                continue
            lines.append("| " + " | ".join(_md(h) for h in s.headers) + " |")
            lines.append("|" + "---|" * len(s.headers))
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in s.rows]
            lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;
color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0}
tr:nth-child(even) td{background:#fafafa}
td{word-break:break-word}
"""


def _inline(text: str) -> str:
    """Escape, then render the one Markdown emphasis the summary uses."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def render_html(parts: list[Section], title: str = TITLE) -> str:
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    for s in parts:
        body.append(f"<h2>{e(s.title)}</h2>")
        body += [f"<p>{_inline(t)}</p>" for t in s.text]
        if s.headers:
            if not s.rows:
                body.append("<p>(none)</p>")
                continue
            head = "".join(f"<th>{e(h)}</th>" for h in s.headers)
            rows = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                           for row in s.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            f"style-src 'unsafe-inline'\"><title>{e(title)}</title><style>{_CSS}</style>"
            f"</head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(ev: Evaluation, path: str | Path) -> Path:
    """Write the report; ``.html``/``.htm`` gives HTML, anything else Markdown."""
    p = Path(path)
    parts = sections(ev)
    text = render_html(parts) if p.suffix.lower() in (".html", ".htm") else \
        render_markdown(parts)
    p.write_text(text, encoding="utf-8")
    return p


__all__ = ["Section", "render_html", "render_markdown", "sections", "write_report"]
