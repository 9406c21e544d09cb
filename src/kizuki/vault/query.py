"""Search and timelines over a vault with DuckDB: sealed segments plus the unsealed tail (R12).

Only segments the manifest lists and whose time range overlaps the window are
handed to DuckDB, so a one-day search over two years reads one day of files. Events
still in the WAL are read too (whole frames only), so the last seconds of activity
are searchable before the next seal. Results come back sorted by time.

The small query syntax is whitespace-separated terms, ANDed::

    host.name=WS-01 user.name=alice event.code=4624 event.outcome!=success
    process.name=*powershell*        (``*`` matches anything, case-insensitively)

Columns (``@timestamp``, ``host.name``, ``user.name``, ``source.ip``,
``destination.ip``, ``event.code``, ``event.action``, ``event.outcome``,
``data_type``) are matched directly; any other dotted name is looked up in the
stored event JSON. Experts pass ``sql``: a query over the view ``events`` (already
limited to the time window), e.g. ``SELECT "host.name", count(*) FROM events GROUP BY 1``.
"""

from __future__ import annotations

import atexit
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from kizuki.errors import KizukiError
from kizuki.vault.manifest import MANIFEST, VaultError, read_manifest
from kizuki.vault.segments import FIELD_COLUMNS, TS_COLUMN, SegmentBuffer, canonical_ts
from kizuki.vault.wal import read_records, wal_files

COLUMNS = frozenset((TS_COLUMN, *FIELD_COLUMNS, "data_type"))
_HOST_KEY = "lower(split_part(\"host.name\", '.', 1))"
# CORP\alice, alice@corp.local and alice are one user (architecture: entities).
_USER_KEY = "regexp_replace(regexp_replace(lower(\"user.name\"), '^.*\\\\', ''), '@.*$', '')"


class QueryError(KizukiError):
    """A search term or SQL query is invalid."""


@dataclass(frozen=True, slots=True)
class Term:
    """One ``field=value`` (or ``field!=value``) term of the query syntax."""

    field: str
    value: str
    negate: bool = False


def parse_query(text: str) -> list[Term]:
    """Parse ``host.name=WS-01 user.name!=bob`` into terms (values may be quoted)."""
    terms: list[Term] = []
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"query {text!r}: {exc}") from exc
    for token in tokens:
        negate = "!=" in token
        name, sep, value = token.partition("!=" if negate else "=")
        if not sep or not name:
            raise QueryError(f"query term {token!r} is not field=value or field!=value")
        terms.append(Term(name, value, negate))
    return terms


def _json_path(name: str) -> str:
    return "$." + ".".join('"' + part.replace('"', "") + '"' for part in name.split("."))


def _term_sql(term: Term, params: list[Any]) -> str:
    if term.field == TS_COLUMN:
        expr = f'CAST("{term.field}" AS VARCHAR)'
    elif term.field in COLUMNS:
        # A bare text column, no cast or wrapper, so DuckDB pushes the filter into
        # the Parquet scan and reads the big ``event`` column only for matching rows.
        expr = f'"{term.field}"'
    else:
        expr = "json_extract_string(event, ?)"
        params.append(_json_path(term.field))
    if "*" in term.value:
        pattern = term.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(pattern.replace("*", "%"))
        cond = f"{expr} ILIKE ? ESCAPE '\\'"
    else:
        params.append(term.value)
        cond = f"{expr} = ?"
    # NULL (field absent) matches ``!=`` and never ``=`` (WHERE drops NULL rows).
    return f"coalesce(NOT ({cond}), true)" if term.negate else cond


@dataclass(frozen=True, slots=True)
class _Segment:
    path: str
    min_ts: str
    max_ts: str


# The parsed manifest of each vault, keyed by the manifest file's identity: it only
# grows (or is cut back by a seal's rollback), so its size and mtime say when to reread.
_MANIFESTS: dict[Path, tuple[tuple[int, int, int], list[_Segment], frozenset[str]]] = {}


def _manifest(root: Path) -> tuple[list[_Segment], frozenset[str]]:
    """Every segment the manifest lists, and the WAL file names already sealed."""
    try:
        st = (root / MANIFEST).stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        stamp = (0, 0, 0)
    cached = _MANIFESTS.get(root)
    if cached is not None and cached[0] == stamp:
        return cached[1], cached[2]
    lines, _ = read_manifest(root)
    segments: list[_Segment] = []
    sealed_wal: set[str] = set()
    for ln in lines:
        entry = ln.entry
        if not entry or entry.get("kind") != "segment":
            continue
        sealed_wal.update(entry.get("wal", []))
        segments.append(
            _Segment(
                str(root / str(entry.get("path"))),
                str(entry.get("min_ts", "")),
                str(entry.get("max_ts", "")),
            )
        )
    _MANIFESTS[root] = (stamp, segments, frozenset(sealed_wal))
    return segments, frozenset(sealed_wal)


def _segment_files(
    root: Path, start: str | None, end: str | None
) -> tuple[list[str], frozenset[str]]:
    """Segment files overlapping [start, end), and WAL names already sealed."""
    segments, sealed_wal = _manifest(root)
    files: list[str] = []
    for seg in segments:
        if start is not None and seg.max_ts < start:
            continue
        if end is not None and seg.min_ts >= end:
            continue
        if os.path.exists(seg.path):  # a segment removed by retention is simply gone
            files.append(seg.path)
    return files, sealed_wal


def _tail_table(
    root: Path, sealed_wal: frozenset[str], start: str | None, end: str | None
) -> pa.Table | None:
    """Unsealed events in the window, or None when there are none."""
    buf = SegmentBuffer()
    for path in wal_files(root / "wal"):
        if path.name in sealed_wal:  # sealed, its removal was interrupted
            continue
        try:
            for payload in read_records(path):
                try:
                    doc = orjson.loads(payload)
                    ts = doc[TS_COLUMN] = canonical_ts(doc.get(TS_COLUMN))
                except (orjson.JSONDecodeError, TypeError, ValueError, KizukiError):
                    continue
                if (start is None or ts >= start) and (end is None or ts < end):
                    buf.add(payload, doc)
        except FileNotFoundError:
            continue
    return buf.table() if len(buf) else None


_DB: list[duckdb.DuckDBPyConnection] = []


def _close_database() -> None:
    while _DB:
        _DB.pop().close()


def _database() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process; each query gets its own cursor (connection).

    Opening a database costs tens of milliseconds, more than a one-day search.
    """
    if not _DB:
        db = duckdb.connect()
        db.execute("SET TimeZone='UTC'")
        _DB.append(db)
        # Closed before the interpreter tears DuckDB's bindings down (otherwise nanobind
        # reports the still-open connection's objects as leaks at exit).
        atexit.register(_close_database)
    return _DB[0]


def events_source(
    root: Path, start: datetime | None, end: datetime | None
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A cursor and the SQL of the events in [start, end) (segments plus WAL tail).

    The source is a subquery rather than a view: creating a view per query is a
    catalog change that costs more than a one-day search.
    """
    if not (root / "vault.json").exists():
        raise VaultError("not a vault (no vault.json)", where=str(root))
    lo = canonical_ts(start) if start is not None else None
    hi = canonical_ts(end) if end is not None else None
    files, sealed_wal = _segment_files(root, lo, hi)
    tail = _tail_table(root, sealed_wal, lo, hi)
    con = _database().cursor()
    parts = []
    if files:
        quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        parts.append(f"SELECT * FROM read_parquet([{quoted}], hive_partitioning = false)")
    if tail is not None or not files:
        # With no segments either, the (possibly empty) tail still gives the schema.
        con.register("wal_tail", tail if tail is not None else SegmentBuffer().table())
        parts.append("SELECT * FROM wal_tail")
    where = []
    if lo is not None:
        where.append(f"\"{TS_COLUMN}\" >= TIMESTAMPTZ '{lo}'")
    if hi is not None:
        where.append(f"\"{TS_COLUMN}\" < TIMESTAMPTZ '{hi}'")
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    return con, f"(SELECT * FROM ({' UNION ALL '.join(parts)}){cond})"


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        raw = row.get("event")
        if isinstance(raw, str):
            row["event"] = orjson.loads(raw)
    return rows


def search(
    root: str | os.PathLike[str],
    start: datetime | None = None,
    end: datetime | None = None,
    filters: Mapping[str, str] | str | None = None,
    sql: str | None = None,
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Events in [start, end) matching ``filters`` (dict or query text), sorted by time.

    With ``sql``, run that query over the view ``events`` instead and return its rows
    as they come (``event`` columns are parsed from JSON).
    """
    con, source = events_source(Path(root), start, end)
    try:
        if sql is not None:
            try:
                con.execute(f"CREATE TEMP VIEW events AS SELECT * FROM {source}")
                return _rows(con.sql(sql).to_arrow_table())
            except duckdb.Error as exc:
                raise QueryError(f"SQL failed: {exc}") from exc
        if isinstance(filters, str):
            terms = parse_query(filters)
        else:
            terms = [Term(k, str(v)) for k, v in (filters or {}).items()]
        params: list[Any] = []
        conds = [_term_sql(t, params) for t in terms]
        return _select(con, source, conds, params, limit)
    finally:
        con.close()


def _select(
    con: duckdb.DuckDBPyConnection,
    source: str,
    conds: list[str],
    params: list[Any],
    limit: int | None,
) -> list[dict[str, Any]]:
    query = f"SELECT * FROM {source} AS events"
    if conds:
        query += " WHERE " + " AND ".join(conds)
    query += f' ORDER BY "{TS_COLUMN}", event'
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    return _rows(con.sql(query, params=params).to_arrow_table())


def timeline(
    root: str | os.PathLike[str],
    host: str | None = None,
    user: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Everything one host or user did, in time order, for an investigation.

    Hosts match case-insensitively and an FQDN matches its short name; users match
    with or without their domain (``CORP\\alice``, ``alice@corp.local``, ``alice``).
    """
    if host is None and user is None:
        raise QueryError("a timeline needs a host or a user")
    con, source = events_source(Path(root), start, end)
    try:
        conds: list[str] = []
        params: list[Any] = []
        if host is not None:
            conds.append(f"{_HOST_KEY} = ?")
            params.append(host.split(".", 1)[0].lower())
        if user is not None:
            conds.append(f"{_USER_KEY} = ?")
            params.append(user.lower().rsplit("\\", 1)[-1].split("@", 1)[0])
        return _select(con, source, conds, params, limit)
    finally:
        con.close()
