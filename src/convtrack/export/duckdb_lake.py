# ruff: noqa: S608  (SQL is composed from column names the store itself reports)
"""The DuckDB side of the export: a store file opened read-only, or a reader connection of
the running server's store (``EventStore.export_parquet``; DuckDB lets one process open the
file, so while ``convtrack serve`` runs the CLI asks the server to export).

DuckDB writes the Parquet itself (``COPY … TO``), and its schema is the lake's schema: the
PostgreSQL export writes the one ``lake_schemas()`` reads from an empty DuckDB store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from convtrack.errors import ConvtrackError
from convtrack.export.parquet import LEFT_OUT, SIDE_TABLES, DayStats

DAY = "CAST(timezone('UTC', occurred_at) AS DATE)"


def duckdb_path(store_url: str) -> Path:
    path = Path(store_url.partition("://")[2])
    if not path.exists():
        raise ConvtrackError("store_not_found", f"no store file at {path}")
    return path


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise ConvtrackError(
            "store_locked",
            f"cannot open {path} read-only ({exc}). A `convtrack serve` over this data "
            "directory is used for the export when it runs: pass its --data-dir.",
        ) from None
    con.execute("SET TimeZone = 'UTC'")  # last received_at as the server's reader spells it
    return con


class DuckDBLake:
    """Reads through ``con``, a connection no writer uses (transactions: one per day)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def day_stats(self, start: Any, end: Any) -> list[DayStats]:
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
        rows = self.con.execute(sql, params).fetchall()
        return [(str(d), int(n), str(last)) for d, n, last in rows]

    def write_day(self, day: str, path: Path) -> tuple[int, str]:
        where = f"WHERE {DAY} = CAST(? AS DATE)"
        self.con.execute("BEGIN TRANSACTION READ ONLY")  # the stats and the rows: one snapshot
        try:
            got = self.con.execute(
                f"SELECT count(*), CAST(max(received_at) AS VARCHAR) FROM events {where}", [day]
            ).fetchone()
            select = select_list(self.con, "events")
            sql = f"SELECT {select} FROM events {where} ORDER BY occurred_at"
            _copy(self.con, sql, [day], path)
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")
        assert got is not None
        return int(got[0]), str(got[1])

    def write_table(self, table: str, path: Path) -> int:
        return _copy(self.con, f"SELECT {select_list(self.con, table)} FROM {table}", [], path)


def select_list(con: duckdb.DuckDBPyConnection, table: str) -> str:
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


def _copy(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], path: Path) -> int:
    target = path.as_posix().replace("'", "''")
    done = con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)", params)
    row = done.fetchone()
    return int(row[0]) if row else 0


def lake_schemas() -> dict[str, pa.Schema]:
    """``events`` and the side tables' Parquet schema as DuckDB writes it (names, Arrow types,
    nullability): read back from files exported from an empty, fully migrated store."""
    from convtrack.store.migrations import load_migrations

    con = duckdb.connect(":memory:")
    try:
        for m in load_migrations("duckdb"):
            con.execute(m.sql)
        with tempfile.TemporaryDirectory(prefix="convtrack-schema-") as tmp:
            schemas = {}
            for table in ("events", *SIDE_TABLES):
                path = Path(tmp) / f"{table}.parquet"
                _copy(con, f"SELECT {select_list(con, table)} FROM {table}", [], path)
                schemas[table] = pq.read_schema(path).remove_metadata()
            return schemas
    finally:
        con.close()
