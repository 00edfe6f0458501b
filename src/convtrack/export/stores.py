"""Which ``Lake`` reads a store: by its URL (the CLI, on its own) or an open store (the
server, asked over ``POST /v1/admin/export`` while it holds the DuckDB file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from convtrack.errors import ConvtrackError
from convtrack.export.parquet import ExportResult, Progress, export_parquet

if TYPE_CHECKING:
    from convtrack.store.base import EventStore


def engine_of(store_url: str) -> str:
    scheme = store_url.partition("://")[0].lower()
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme == "duckdb":
        return "duckdb"
    raise ConvtrackError("unsupported_store", f"export reads DuckDB or PostgreSQL, not {scheme}")


def export_url(
    store_url: str,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Export the store at ``store_url``, opened here (read-only)."""
    if engine_of(store_url) == "postgresql":
        return _from_postgres(store_url, out, start, end, progress)
    from convtrack.export.duckdb_lake import DuckDBLake, connect, duckdb_path

    con = connect(duckdb_path(store_url))
    try:
        return export_parquet(DuckDBLake(con), out, start, end, progress)
    finally:
        con.close()


def export_store(
    store: EventStore,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Export an open store: DuckDB through a reader connection of its own database (beside
    its writer; MVCC: ingest carries on), PostgreSQL through a connection of the export's."""
    from convtrack.export.duckdb_lake import DuckDBLake
    from convtrack.store.duckdb_base import DuckDBConnection

    if isinstance(store, DuckDBConnection):
        cur = store._cursor()  # never the writer's connection
        try:
            return export_parquet(DuckDBLake(cur), out, start, end, progress)
        finally:
            cur.close()
    url = str(getattr(store, "url", ""))
    if engine_of(url) != "postgresql":
        raise ConvtrackError("unsupported_store", f"cannot export a {type(store).__name__}")
    return _from_postgres(url, out, start, end, progress)


def _from_postgres(
    url: str, out: Path, start: date | None, end: date | None, progress: Progress | None
) -> ExportResult:
    from convtrack.export.postgres_lake import PostgresLake

    lake = PostgresLake(url)
    try:
        lake.lock_export()  # one export of this database at a time, across processes
        return export_parquet(lake, out, start, end, progress)
    finally:
        lake.close()
