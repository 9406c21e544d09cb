"""Alert output: JSON lines, CSV, a terminal timeline and a self-contained HTML report.

Issue 3 item 6 ("Output: terminal timeline, JSON lines, CSV, and a self-contained HTML
report with the timeline of each alert"); the formats are documented in docs/alerts.md.
Log data is attacker-controlled: every writer escapes it for its medium (HTML escaping,
Rich ``Text`` instead of markup, spreadsheet formula neutralisation in CSV).
"""

from kizuki.report.flat import (
    CSV_COLUMNS,
    alert_row,
    csv_writer,
    jsonl_writer,
    write_csv,
    write_jsonl,
)
from kizuki.report.html import render_html, write_html
from kizuki.report.table import render_table

__all__ = [
    "CSV_COLUMNS",
    "alert_row",
    "csv_writer",
    "jsonl_writer",
    "render_html",
    "render_table",
    "write_csv",
    "write_html",
    "write_jsonl",
]
