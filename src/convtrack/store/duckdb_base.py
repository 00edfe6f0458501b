"""The DuckDB file and its connections, under ``DuckDBStore`` and its parts.

One connection writes, behind ``_lock``, one transaction at a time (``_transaction``);
reads take cursors of a second connection (``_cursor``), so they run beside the writer.
``DuckDBStore`` is this class with its parts: ``duckdb_quarantine``'s mixin, and
``store/parts.py``'s, which both engines share.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from convtrack.errors import ConvtrackError
from convtrack.store.base import QueryResult, StoreLocked
from convtrack.store.migrations import load_migrations

log = logging.getLogger("convtrack.store")
T = TypeVar("T")
_READ_ONLY_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def path_from_url(url: str) -> Path:
    prefix = "duckdb://"
    if not url.startswith(prefix):
        raise ConvtrackError("unsupported_store", f"not a DuckDB URL: {url}", status=500)
    # duckdb:///abs/path.duckdb is absolute; duckdb://relative/path.duckdb is relative.
    return Path(url[len(prefix) :])


ARROW_ROWS = "_arrow_rows"
"""The name under which ``run_on_arrow``'s SQL reads its Arrow table."""


def run_on_arrow(con: duckdb.DuckDBPyConnection, sql: str, _arrow_rows: pa.Table) -> list[Any]:
    """Run ``sql``, which reads the Arrow table ``_arrow_rows`` by that name, and fetch.

    DuckDB finds the table as a local of this frame (its replacement scan): nothing enters the
    catalog. ``register`` plus ``unregister`` of a table measured ~0.6–0.8 ms per statement
    here, inside a transaction, and an append runs four or five such statements: ~5 µs per
    event at 1000 events per commit (docs/benchmarks.md). A table or view of that name would
    win over the local: none exists. The lookup is of this frame only, so ``sql`` must be run
    here, never through a wrapper of ``con``.
    """
    return con.execute(sql).fetchall()


class DuckDBConnection:
    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.path = path_from_url(url)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise ConvtrackError(
                "store_missing", f"No store at {self.path}; start `convtrack serve` first.", 404
            )
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLocked(str(exc).splitlines()[0]) from None
            raise
        self._lock = threading.Lock()  # serialises use of the main connection
        self._con.execute("SET TimeZone = 'UTC'")
        self._reader = self._con.cursor()
        self._reader_lock = threading.Lock()

    # -- schema -------------------------------------------------------------------------
    def schema_version(self) -> int:
        # Through a cursor, like every read: this runs beside the writer (/v1/admin/status).
        row = self._read(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchall()
        if not row[0][0]:
            return 0
        got = self._read("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()
        return int(got[0][0])

    def migrate(self) -> list[str]:
        applied = []
        with self._lock:
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            current = self.schema_version()
            for m in load_migrations("duckdb"):
                if m.version <= current:
                    continue
                self._con.execute("BEGIN")
                try:
                    self._con.execute(m.sql)
                    self._con.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [m.version, m.name],
                    )
                    self._con.execute("COMMIT")
                except Exception:
                    self._con.execute("ROLLBACK")
                    raise
                applied.append(f"{m.version:04d}_{m.name}")
            self._migrated()
        return applied

    def _migrated(self) -> None:
        """Called after migrations ran (a subclass drops what it read from old tables)."""

    def _rolled_back(self) -> None:
        """Called when a transaction is rolled back (a subclass forgets what it kept)."""

    # -- transactions and reads ---------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The writer's connection inside one transaction: committed when the block ends,
        rolled back (and the exception raised again) when it fails."""
        with self._lock:
            self._con.execute("BEGIN")
            try:
                yield self._con
                self._con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Roll back, and never leave the writer's connection in an aborted transaction."""
        self._rolled_back()
        try:
            self._con.execute("ROLLBACK")
        except duckdb.Error:
            log.exception("rollback failed; reopening the store connection")
            self._con.close()
            self._con = duckdb.connect(str(self.path))
            self._con.execute("SET TimeZone = 'UTC'")

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        try:
            parser = self._cursor()  # never the writer's connection
            try:
                statements = parser.extract_statements(sql)
            finally:
                parser.close()
        except duckdb.Error as exc:
            raise ConvtrackError("invalid_sql", f"Could not parse SQL: {exc}") from None
        if len(statements) != 1 or statements[0].type not in _READ_ONLY_TYPES:
            raise ConvtrackError(
                "read_only",
                "Only one read-only statement (SELECT, WITH … SELECT, EXPLAIN) is allowed.",
            )
        # A read-only transaction: EXPLAIN ANALYZE runs the statement it explains.
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION READ ONLY")
        try:
            cur.execute(sql, list(params))
            columns = [d[0] for d in cur.description] if cur.description else []
            return QueryResult(columns, cur.fetchall())
        except duckdb.TransactionException as exc:
            raise ConvtrackError("read_only", str(exc).splitlines()[0]) from None
        except duckdb.Error as exc:
            raise ConvtrackError("sql_error", str(exc).splitlines()[0]) from None
        finally:
            cur.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A separate connection to the same database, safe beside the writer; cursors are
        made from a connection the writer never uses."""
        with self._reader_lock:
            cur = self._reader.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def _read(self, sql: str, params: Sequence[Any] = ()) -> duckdb.DuckDBPyConnection:
        return self._cursor().execute(sql, list(params))

    def _reading(self, read: Callable[..., T], *args: Any) -> T:
        cur = self._cursor()
        try:
            return read(cur, *args)
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock, self._reader_lock:
            self._reader.close()
            self._con.close()
