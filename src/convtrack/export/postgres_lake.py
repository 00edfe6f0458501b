# ruff: noqa: S608  (SQL is composed from column names the store itself reports)
"""The PostgreSQL side of the export: the lake DuckDB would write, streamed day by day.

PostgreSQL takes readers beside its writers, so the CLI connects itself (a running
``convtrack serve`` is not involved). Each day is read in one read-only REPEATABLE READ
transaction through a server-side cursor, ``BATCH`` rows at a time, and written as a Parquet
row group per batch: memory stays bounded by a batch whatever the size of a day or the table.

One export of a database runs at a time, whichever process (collector or CLI) runs it: the lake
takes a session-level advisory lock (``EXPORT_LOCK``) first and keeps it until its connection
closes (a crashed process's session ends, and its lock with it); when another export holds it
the export is refused with 409 ``export_running``.

The Parquet schema is DuckDB's (``duckdb_lake.lake_schemas``): every column the lake has is
cast here to the same Arrow type (``numeric`` to DuckDB's ``DECIMAL(p,s)``, ``jsonb`` to text,
``timestamptz`` to UTC microseconds), so Spark reads a lake from either engine the same way.
JSON text is PostgreSQL's spelling of the same value (``jsonb`` keeps no formatting).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from convtrack.errors import ConvtrackError
from convtrack.export.duckdb_lake import lake_schemas
from convtrack.export.parquet import DayStats, export_running

BATCH = 20_000  # rows per fetch and per row group
DAY = "(occurred_at AT TIME ZONE 'UTC')::date"
EXPORT_LOCK = 0x63746578  # pg_try_advisory_lock key ("ctex"): one export per database


class PostgresLake:
    def __init__(self, url: str) -> None:
        from convtrack.store.postgres.store import connect

        self.con = connect(url, read_only=True)  # UTC, JSON loaded as text
        self.con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.schemas = lake_schemas()
        self._layouts: dict[str, tuple[str, pa.Schema]] = {}

    def close(self) -> None:
        self.con.close()  # ends the session: its export lock goes with it

    def lock_export(self) -> None:
        """Take the export lock for this lake's session; ``export_running()`` when another
        session holds it (never waits)."""
        row = self.con.execute("SELECT pg_try_advisory_lock(%s)", [EXPORT_LOCK]).fetchone()
        if not (row and row[0]):
            raise export_running()

    def day_stats(self, start: date | None, end: date | None) -> list[DayStats]:
        where, params = _bounds(start, end)
        sql = (
            f"SELECT {DAY}::text AS d, count(*), max(received_at)::text "
            f"FROM events{where} GROUP BY d ORDER BY d"
        )
        rows = self.con.execute(sql, params).fetchall()
        return [(str(d), int(n), str(last)) for d, n, last in rows]

    def write_day(self, day: str, path: Path) -> tuple[int, str]:
        first = date.fromisoformat(day)
        where, params = _bounds(first, first + timedelta(days=1))
        with self.con.transaction():  # the stats and the rows: one snapshot
            got = self.con.execute(
                f"SELECT count(*), max(received_at)::text FROM events{where}", params
            ).fetchone()
            select, schema = self._layout("events")
            sql = f"SELECT {select} FROM events{where} ORDER BY occurred_at"
            self._stream(sql, params, schema, path)
        assert got is not None
        return int(got[0]), str(got[1])

    def write_table(self, table: str, path: Path) -> int:
        select, schema = self._layout(table)
        with self.con.transaction():
            return self._stream(f"SELECT {select} FROM {table}", [], schema, path)

    def _stream(self, sql: str, params: list[Any], schema: pa.Schema, path: Path) -> int:
        """``sql``'s rows through a server-side cursor into ``path``, a batch at a time."""
        rows = 0
        with (
            self.con.cursor(name=f"export_{uuid.uuid4().hex[:8]}") as cur,
            pq.ParquetWriter(
                path, schema, compression="zstd", store_schema=False, store_decimal_as_integer=True
            ) as writer,
        ):
            cur.itersize = BATCH
            cur.execute(sql, params)
            while batch := cur.fetchmany(BATCH):
                columns = list(zip(*batch, strict=True))
                arrays = [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
                rows += len(batch)
        return rows

    def _layout(self, table: str) -> tuple[str, pa.Schema]:
        """The lake's columns of ``table`` in its order, cast to the lake's types, and their
        schema. NOT NULL is PostgreSQL's (DuckDB's writer also marks a column required when
        its statistics saw no null: an empty table's columns, for one)."""
        if table not in self._layouts:
            found = self.con.execute(
                "SELECT column_name, data_type, is_nullable = 'YES' "
                "FROM information_schema.columns "
                "WHERE table_name = %s AND table_schema = current_schema()",
                [table],
            ).fetchall()
            kinds = {name: (kind, nullable) for name, kind, nullable in found}
            lake = self.schemas[table]
            missing = [f.name for f in lake if f.name not in kinds]
            if missing:
                raise ConvtrackError(
                    "export_schema",
                    f"the PostgreSQL store has no {table}.{missing[0]} column; start "
                    "`convtrack serve` of this version once to migrate it",
                )
            select = ", ".join(_cast(f, kinds[f.name][0]) for f in lake)
            fields = [f.with_nullable(bool(kinds[f.name][1])) for f in lake]
            self._layouts[table] = (select, pa.schema(fields))
        return self._layouts[table]


def _cast(lake: pa.Field, kind: str) -> str:
    quoted = '"' + lake.name.replace('"', '""') + '"'
    if pa.types.is_decimal(lake.type):
        return f"CAST({quoted} AS numeric({lake.type.precision}, {lake.type.scale})) AS {quoted}"
    if kind in ("json", "jsonb"):
        return f"{quoted}::text AS {quoted}"
    return quoted


def _bounds(start: date | None, end: date | None) -> tuple[str, list[Any]]:
    """A WHERE clause for UTC days ``[start, end)`` on ``occurred_at`` (its index applies)."""
    where, params = [], []
    if start is not None:
        where.append("occurred_at >= %s")
        params.append(datetime.combine(start, time(), UTC))
    if end is not None:
        where.append("occurred_at < %s")
        params.append(datetime.combine(end, time(), UTC))
    return (f" WHERE {' AND '.join(where)}" if where else ""), params
