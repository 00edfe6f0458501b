"""The shared store: PostgreSQL, for several collectors writing one database.

One writer connection (appends, each one committed transaction) and one reader connection
(``query``, listings), both with ``TimeZone = UTC`` and JSON columns read back as text, as
DuckDB returns them. Appends go through binary COPY (store/postgres/events.py); idempotency is
the ``event_id`` primary key, so it holds across processes. The temporary batch table lives
as long as the connection: a pooler in front must run in session mode.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.string import TextLoader

from convtrack.errors import ConvtrackError
from convtrack.events import Event, Rejected
from convtrack.store.base import (
    CreditsJob,
    EventStore,
    Person,
    QuarantineFilter,
    QuarantineRow,
    QueryResult,
    ReplayStatus,
    SpendRow,
)
from convtrack.store.duckdb_spend import check_unique as check_spend_unique
from convtrack.store.links_model import Link, SkanPostback
from convtrack.store.migrations import load_migrations
from convtrack.store.outbox_model import Attempt, ClaimedJob
from convtrack.store.parts import POSTGRES, DashboardParts, KeysParts
from convtrack.store.postgres import credits as pg_credits
from convtrack.store.postgres import events as pg_events
from convtrack.store.postgres import identity as pg_identity
from convtrack.store.postgres import links as pg_links
from convtrack.store.postgres import outbox as pg_outbox
from convtrack.store.postgres import privacy as pg_privacy
from convtrack.store.postgres import quarantine as pg_quarantine
from convtrack.store.postgres import spend as pg_spend
from convtrack.store.postgres.sql import COMMANDS, scan

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphRows
    from convtrack.identity.records import StitchPolicy

_MIGRATION_LOCK = 0x636F6E76  # pg_advisory_lock key: one process migrates at a time
_RETAINED = ("events", "quarantine")
_READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction

T = TypeVar("T")


def display_url(url: str) -> str:
    """The URL without its password (what errors and logs show)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    host, port, db = parts.get("host", ""), parts.get("port", ""), parts.get("dbname", "")
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{':' + str(port) if port else ''}/{db}"


def connect(url: str, *, read_only: bool = False) -> psycopg.Connection[Any]:
    try:
        con = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise ConvtrackError(
            "store_unavailable",
            f"Could not connect to PostgreSQL at {display_url(url)}: {detail}",
            status=503,
        ) from None
    for json_type in ("json", "jsonb"):  # JSON as text, on every engine
        con.adapters.register_loader(json_type, TextLoader)
    con.execute("SET TIME ZONE 'UTC'")
    if read_only:
        con.execute("SET default_transaction_read_only = on")
    return con


class PostgresStore(KeysParts, DashboardParts, EventStore):
    _spelling = POSTGRES  # for the parts (store/parts.py)

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._con = connect(url, read_only=read_only)
        self._lock = threading.Lock()  # serialises use of the writer's connection
        self._reader = connect(url, read_only=True)
        self._reader_lock = threading.Lock()
        self._batch_ready = False  # the writer's temporary batch table exists
        self._policy: StitchPolicy | None = None  # None: StitchPolicy()'s defaults
        self._at_ingest = True  # stitch each append's new events (store/postgres/identity.py)

    # -- connections ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self, batch: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """The writer's connection inside one transaction: committed when the block ends,
        rolled back when it raises (a broken connection is opened again). ``batch``: the
        temporary batch table is needed (made once per connection, outside transactions)."""
        with self._lock:
            if self._con.broken or self._con.closed:
                self._con = connect(self.url, read_only=self.read_only)
                self._batch_ready = False
            if batch and not self._batch_ready:
                self._con.execute(pg_events.CREATE_BATCH)
                self._batch_ready = True
            with self._con.transaction():
                yield self._con

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor of the reader's connection (autocommit: each read sees the latest)."""
        with self._reader_lock:
            if self._reader.broken or self._reader.closed:
                self._reader = connect(self.url, read_only=True)
            with self._reader.cursor() as cur:
                yield cur

    def _reading(self, read: Callable[..., T], *args: Any) -> T:
        """``read(cursor, *args)`` on a reader cursor."""
        with self._cursor() as cur:
            return read(cur, *args)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._cursor() as cur:
            cur.execute(sql, list(params))
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._cursor() as cur:
            row = cur.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        if self._scalar("SELECT to_regclass('schema_migrations') IS NULL"):
            return 0
        return int(self._scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def migrate(self) -> list[str]:
        applied: list[str] = []
        with self._lock:
            con = self._con
            con.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
            try:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
                current = int(row.fetchall()[0][0])
                for m in load_migrations("postgresql"):
                    if m.version <= current:
                        continue
                    with con.transaction():
                        con.execute(m.sql.encode())  # bytes: run as is, no placeholders
                        con.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            [m.version, m.name],
                        )
                    applied.append(f"{m.version:04d}_{m.name}")
            finally:
                con.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])
        return applied

    # -- events ---------------------------------------------------------------------------
    def append(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> int:
        if not events and not rejected:
            return 0
        with self._transaction(batch=True) as con:
            events, rejected = pg_privacy.drop_tombstoned(con, events, rejected)
            inserted = pg_events.insert_new(con, events) if events else []
            pg_events.record_copies(con, events)  # every copy's source, for match rates
            if rejected:
                pg_quarantine.insert(con, rejected)
            if inserted and self._at_ingest:  # last: the identity lock is held until commit
                self._stitch(con, events, inserted)
        return len(inserted)

    def _stitch(
        self, con: psycopg.Connection[Any], events: Sequence[Event], inserted: list[str]
    ) -> None:
        from convtrack.identity.records import StitchPolicy

        new = set(inserted)
        first = [e for e in pg_events.first_copies(events) if e.event_id in new]
        pg_identity.observe(con, self._policy or StitchPolicy(), first)

    def count_events(self) -> int:
        return int(self._scalar("SELECT count(*) FROM events"))

    def count_quarantined(self) -> int:
        return int(self._scalar("SELECT count(*) FROM quarantine"))

    def events_after(self, cursor: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM events", []
        if cursor is not None:
            sql += " WHERE (received_at, event_id) > (%s, %s)"
            params = [cursor[0], cursor[1]]
        return self._rows(sql + " ORDER BY received_at, event_id LIMIT %s", [*params, int(limit)])

    def last_events(self, limit: int) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM (SELECT * FROM events ORDER BY received_at DESC, event_id DESC"
            " LIMIT %s) t ORDER BY received_at, event_id",
            [int(limit)],
        )

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        scanned = scan(sql)
        if scanned.verb not in COMMANDS:
            raise ConvtrackError(
                "invalid_sql",
                f"Could not parse SQL: no statement starts with {scanned.verb or sql[:20]!r}",
            )
        if not scanned.read_only:
            raise ConvtrackError(
                "read_only",
                "Only one read-only statement (SELECT, WITH … SELECT, EXPLAIN) is allowed.",
            )
        with self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION READ ONLY")
            try:
                cur.execute(scanned.sql, list(params))
                columns = [d.name for d in cur.description] if cur.description else []
                return QueryResult(columns, cur.fetchall())
            except psycopg.Error as exc:
                raise _query_error(exc) from None
            finally:
                cur.execute("ROLLBACK")

    # -- quarantine -----------------------------------------------------------------------
    def list_quarantined(self, filters: QuarantineFilter, limit: int) -> list[QuarantineRow]:
        with self._cursor() as cur:
            return pg_quarantine.list_rows(cur, filters, limit)

    def quarantine_reasons(
        self, filters: QuarantineFilter, limit: int
    ) -> list[tuple[str, str, int]]:
        with self._cursor() as cur:
            return pg_quarantine.reasons(cur, filters, limit)

    def get_quarantined(self, reject_id: str) -> QuarantineRow | None:
        with self._cursor() as cur:
            return pg_quarantine.get(cur, reject_id)

    def replay_quarantined(self, replays: Sequence[tuple[str, Event]]) -> dict[str, ReplayStatus]:
        if not replays:
            return {}
        with self._transaction(batch=True) as con:
            outcome = pg_quarantine.replay(con, replays)
            stored = [ev for rid, ev in replays if outcome.get(rid) == "new"]
            if stored and self._at_ingest:  # stitched as an append stitches (last, too)
                self._stitch(con, stored, [ev.event_id for ev in stored])
            return outcome

    # -- click links and SKAdNetwork postbacks (postgres.links) ----------------------------
    def insert_link(self, link: Link) -> None:
        with self._transaction() as con:
            pg_links.insert_link(con, link)

    def get_link(self, link_id: str) -> Link | None:
        with self._cursor() as cur:
            return pg_links.get_link(cur, link_id)

    def list_links(self) -> list[Link]:
        with self._cursor() as cur:
            return pg_links.list_links(cur)

    def insert_skan(self, postback: SkanPostback) -> bool:
        with self._transaction() as con:
            return pg_links.insert_skan(con, postback)

    def skan_summary(self, start: datetime | None, end: datetime | None) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            return pg_links.skan_summary(cur, start, end)

    # -- spend ----------------------------------------------------------------------------
    def upsert_spend(self, rows: Sequence[SpendRow], source: str = "") -> dict[str, int]:
        if not rows:
            return {"inserted": 0, "replaced": 0}
        check_spend_unique(rows)
        with self._transaction() as con:
            return pg_spend.upsert(con, rows, source)

    # -- attribution ----------------------------------------------------------------------
    def save_credits(self, job: CreditsJob) -> int:
        with self._transaction() as con:
            return pg_credits.save(con, job)

    # -- identity -------------------------------------------------------------------------
    def replace_identity(self, rows: GraphRows, people: list[tuple[str, str]]) -> None:
        with self._transaction() as con:
            pg_identity.replace(con, rows, people)

    def configure_identity(self, policy: StitchPolicy, at_ingest: bool = True) -> None:
        self._policy, self._at_ingest = policy, at_ingest

    def rebuild_identity(self) -> dict[str, int]:
        from convtrack.identity.graph import IdentityGraph, people_table
        from convtrack.identity.rebuild import EVENTS_SQL, stitch, summary

        with self._transaction() as con:
            con.execute("LOCK TABLE events IN SHARE MODE")  # holds off every writer's appends
            # (replace takes the identity lock after it, in the order appends take both)
            graph, events = stitch(con.execute(EVENTS_SQL).fetchall(), IdentityGraph(self._policy))
            pg_identity.replace(con, graph.to_rows(), people_table(graph))
        return summary(graph, events)

    # -- rights and retention -------------------------------------------------------------
    def person_data(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        with self._cursor() as cur:
            return pg_privacy.rows(cur, person)

    def erase_person(self, person: Person, dry_run: bool = False) -> dict[str, int]:
        if dry_run:
            with self._cursor() as cur:
                return pg_privacy.count(cur, person)
        with self._transaction() as con:
            at = con.execute("SELECT now()").fetchall()[0][0]
            return pg_privacy.erase(con, person, str(uuid.uuid4()), at)

    def purge_before(self, before: datetime, dry_run: bool = False) -> dict[str, int]:
        """Three steps, so appends never wait for a scan of the events: delete by age (row
        locks), find the identifiers no kept event holds (a snapshot), then expire those
        under the erasure's lock after checking the few events received meanwhile. Nothing of
        the graph is cached here: appends load it."""
        with self._transaction() as con:
            counts = pg_privacy.purge(con, before, dry_run)
        if not counts["events"]:  # identifiers only go with events
            return counts
        with self._transaction() as con:
            scanned_at = con.execute("SELECT now()").fetchall()[0][0]
            unheld = pg_privacy.unheld_identifiers(con, before)
        with self._transaction() as con:
            return counts | pg_privacy.expire_identifiers(con, unheld, scanned_at, dry_run)

    def raw_ips(self, before: datetime) -> list[str]:
        rows = self._rows(
            "SELECT ip FROM (SELECT ip FROM events WHERE received_at < %s AND ip IS NOT NULL"
            " UNION SELECT ip FROM quarantine WHERE received_at < %s AND ip IS NOT NULL) i"
            ' ORDER BY ip COLLATE "C"',
            [before, before],
        )
        return [r["ip"] for r in rows]

    def replace_ips(self, before: datetime, mapping: dict[str, str | None]) -> dict[str, int]:
        old, new = list(mapping), list(mapping.values())
        with self._transaction() as con:
            return {
                table: con.execute(
                    f"UPDATE {table} SET ip = m.new FROM unnest(%s::text[], %s::text[])"  # noqa: S608
                    f" AS m(old, new) WHERE {table}.ip = m.old AND {table}.received_at < %s",
                    [old, new, before],
                ).rowcount
                for table in _RETAINED
            }

    # -- forwarding outbox (store/postgres/outbox.py; jobs are written by append) -------
    def claim_jobs(
        self, destination: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[ClaimedJob]:
        with self._transaction() as con:
            return pg_outbox.claim(con, destination, limit, lease_seconds, now)

    def complete_jobs(
        self, destination: str, attempts: Sequence[Attempt], failures: int | None = None
    ) -> None:
        with self._transaction() as con:
            pg_outbox.complete(con, destination, attempts, failures)

    def list_jobs(
        self, status: str | None, destination: str | None, limit: int
    ) -> list[dict[str, Any]]:
        with self._cursor() as cur:
            return pg_outbox.list_jobs(cur, status, destination, limit)

    def show_jobs(self, key: str) -> dict[str, list[dict[str, Any]]]:
        with self._cursor() as cur:
            return pg_outbox.show(cur, key)

    def outbox_stats(self) -> dict[str, dict[str, Any]]:
        with self._cursor() as cur:
            return pg_outbox.stats(cur)

    def retry_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        with self._transaction() as con:
            return pg_outbox.retry(con, job_id, destination, now)

    def replay_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        with self._transaction() as con:
            return pg_outbox.replay(con, job_id, destination, now)

    def pause_destination(self, destination: str, reason: str, now: datetime) -> None:
        with self._transaction() as con:
            pg_outbox.pause(con, destination, reason, now)

    def resume_destination(self, destination: str, now: datetime) -> int:
        with self._transaction() as con:
            return pg_outbox.resume(con, destination, now)

    def close(self) -> None:
        with self._lock, self._reader_lock:
            self._reader.close()
            self._con.close()


def _query_error(exc: psycopg.Error) -> ConvtrackError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if exc.sqlstate == _READ_ONLY_SQLSTATE:
        return ConvtrackError("read_only", first)
    if isinstance(exc, psycopg.errors.SyntaxError):
        return ConvtrackError("invalid_sql", f"Could not parse SQL: {first}")
    return ConvtrackError("sql_error", first)
