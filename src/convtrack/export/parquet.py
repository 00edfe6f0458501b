# ruff: noqa: S608  (SQL is composed from column names the store itself reports)
"""``convtrack export --format parquet``: the store as a Parquet lake, incrementally.

Layout under ``DIR``::

    events/date=YYYY-MM-DD/part-0.parquet   one folder per UTC day of ``occurred_at``
    identity_people/part-0.parquet           anonymous id -> stitched person (rewritten)
    spend/part-0.parquet                     daily ad spend (rewritten)
    manifest.json                            what each day holds (rows, last received_at)

A day is written again only when its row count or its latest ``received_at`` changed since
the manifest was written: a re-run writes the new days, today's partial day and days that
late events (or an erasure) changed, and nothing else. Every folder is written to a
temporary name and renamed into place, so a reader never sees half a day.

The export reads a DuckDB store file read-only (DuckDB lets one process open a file for
writing, so stop ``convtrack serve`` first, or export a copy). Raw PII (``pii_raw``) never
leaves the store; JSON columns become text.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from convtrack.errors import ConvtrackError

MANIFEST = "manifest.json"
LAYOUT_VERSION = 1
LEFT_OUT = frozenset({"pii_raw"})
SIDE_TABLES = ("identity_people", "spend")
DAY = "CAST(timezone('UTC', occurred_at) AS DATE)"

Progress = Callable[[int, int, str], None]


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)  # days written this run
    skipped: int = 0  # days unchanged since the last run
    rows: int = 0  # event rows written
    tables: dict[str, int] = field(default_factory=dict)  # side table -> rows


def duckdb_path(store_url: str) -> Path:
    scheme, _, rest = store_url.partition("://")
    if scheme.lower() != "duckdb":
        raise ConvtrackError(
            "unsupported_store",
            f"export reads DuckDB stores (duckdb:///path); got a {scheme} store. "
            "Export from PostgreSQL is not supported yet.",
        )
    path = Path(rest)
    if not path.exists():
        raise ConvtrackError("store_not_found", f"no store file at {path}")
    return path


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise ConvtrackError(
            "store_locked",
            f"cannot open {path} read-only ({exc}); stop `convtrack serve` first or export "
            "a copy of the file",
        ) from None


def export_parquet(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the lake under ``out`` (see the module doc); ``end`` is the first day left out."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out)
    days: dict[str, Any] = manifest["days"]
    result = ExportResult()
    todo: list[tuple[str, dict[str, Any]]] = []
    for day, rows, last in _day_stats(con, start, end):
        state: dict[str, Any] = {"rows": rows, "last_received_at": last}
        if days.get(day) == state and (out / "events" / f"date={day}").is_dir():
            result.skipped += 1
        else:
            todo.append((day, state))
    select = _select_list(con, "events")
    for i, (day, state) in enumerate(todo):
        if progress:
            progress(i, len(todo), day)
        sql = f"SELECT {select} FROM events WHERE {DAY} = CAST(? AS DATE) ORDER BY occurred_at"
        _write_folder(con, sql, [day], out / "events" / f"date={day}")
        days[day] = state
        result.written.append(day)
        result.rows += int(state["rows"])
        _write_manifest(out, manifest)  # after each day: an interrupted run loses nothing
    for table in SIDE_TABLES:
        sql = f"SELECT {_select_list(con, table)} FROM {table}"
        _write_folder(con, sql, [], out / table)
        count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        result.tables[table] = int(count[0]) if count else 0
    manifest["tables"] = result.tables
    manifest["exported_at"] = datetime.now(UTC).isoformat()
    _write_manifest(out, manifest)
    if progress:
        progress(len(todo), len(todo), "")
    return result


def _day_stats(
    con: duckdb.DuckDBPyConnection, start: date | None, end: date | None
) -> list[tuple[str, int, str]]:
    where, params = [], []
    if start is not None:
        where.append(f"{DAY} >= CAST(? AS DATE)")
        params.append(start.isoformat())
    if end is not None:
        where.append(f"{DAY} < CAST(? AS DATE)")
        params.append(end.isoformat())
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT CAST({DAY} AS VARCHAR) AS d, count(*), CAST(max(received_at) AS VARCHAR) "
        f"FROM events{clause} GROUP BY d ORDER BY d"
    )
    return [(str(d), int(n), str(last)) for d, n, last in con.execute(sql, params).fetchall()]


def _select_list(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Every column but raw PII; JSON as text (Parquet readers other than DuckDB may not
    know the JSON logical type)."""
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
        [table],
    ).fetchall()
    out = []
    for name, kind in cols:
        if name in LEFT_OUT:
            continue
        quoted = '"' + str(name).replace('"', '""') + '"'
        out.append(f"CAST({quoted} AS VARCHAR) AS {quoted}" if kind == "JSON" else quoted)
    return ", ".join(out)


def _write_folder(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], dest: Path) -> None:
    """``sql``'s rows as ``dest/part-0.parquet``, swapped in whole (temp folder + rename)."""
    tmp = dest.parent / f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    target = (tmp / "part-0.parquet").as_posix().replace("'", "''")
    con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)", params)
    old = None
    if dest.exists():
        old = dest.parent / f".old-{dest.name}-{uuid.uuid4().hex[:8]}"
        dest.rename(old)
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old)


def _read_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST
    if not path.exists():
        return {"version": LAYOUT_VERSION, "days": {}, "tables": {}}
    manifest = json.loads(path.read_text())
    if manifest.get("version") != LAYOUT_VERSION:
        raise ConvtrackError(
            "export_layout", f"{path} was written by another export layout; use a new folder"
        )
    return dict(manifest)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, out / MANIFEST)
