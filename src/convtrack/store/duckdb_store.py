"""The embedded store: one DuckDB file, one writer process (connections: duckdb_base.py).

Appends go through Arrow; ids already stored are skipped and ``event_id`` is the primary key,
so a re-sent event is stored once, also across restarts. Every ``append`` is one
committed transaction (DuckDB syncs its WAL on commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from convtrack.events import Event, Rejected
from convtrack.store import (
    copies,
    duckdb_identity,
    duckdb_links,
    duckdb_outbox,
    duckdb_privacy,
    duckdb_spend,
)
from convtrack.store.arrow import COLUMN_NAMES, JSON_COLUMNS, to_arrow
from convtrack.store.base import (
    CreditsJob,
    EventStore,
    Person,
    ReplayStatus,
    SpendRow,
)
from convtrack.store.duckdb_base import ARROW_ROWS, run_on_arrow
from convtrack.store.duckdb_quarantine import QuarantineMixin
from convtrack.store.links_model import Link, SkanPostback
from convtrack.store.outbox_model import (
    Attempt,
    ClaimedJob,
    attach_originals,
    originals_wanted,
)
from convtrack.store.parts import DUCKDB, DashboardParts, KeysParts

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphRows
    from convtrack.identity.records import StitchPolicy

_INSERT_COLUMNS = ", ".join(f'"{c}"' for c in COLUMN_NAMES)
_SELECT_COLUMNS = ", ".join(
    f'CAST("{c}" AS JSON)' if c in JSON_COLUMNS else f'"{c}"' for c in COLUMN_NAMES
)
_INSERT_SQL = f"INSERT INTO events ({_INSERT_COLUMNS}) SELECT {_SELECT_COLUMNS} FROM {ARROW_ROWS}"  # noqa: S608
_STORED_SQL = f"SELECT e.event_id FROM events e SEMI JOIN {ARROW_ROWS} b ON e.event_id = b.event_id"  # noqa: S608


def _first_copies(ids: list[str]) -> list[int]:
    """Row numbers of the first copy of each event_id."""
    first: dict[str, int] = {}
    for row, event_id in enumerate(ids):
        first.setdefault(event_id, row)
    return list(first.values())


class DuckDBStore(QuarantineMixin, KeysParts, DashboardParts, EventStore):
    """A ``DuckDBConnection`` with its parts (quarantine; keys, dashboard sessions and alerts
    in store/parts.py) and, here, events, replay, identity, privacy, outbox, links, spend
    and credits, most of them in the ``duckdb_*`` modules."""

    _spelling = DUCKDB  # for the parts (store/parts.py)

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        super().__init__(url, read_only=read_only)
        self._stitching = duckdb_identity.Stitching()  # the identity graph, kept at ingest
        self._tombstones: frozenset[str] | None = None  # erased identifiers' hashes, once read

    def _migrated(self) -> None:
        self._tombstones = None  # read again (the table may be new)

    def _rolled_back(self) -> None:
        self._stitching.forget()  # it may be ahead of the tables now: reload it when needed

    # -- events -------------------------------------------------------------------------
    def append(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> int:
        if not events and not rejected:
            return 0
        with self._transaction():
            if self._erased():
                events, rejected = duckdb_privacy.drop_erased(self._erased(), events, rejected)
            batch = to_arrow(events) if events else None
            jobs = duckdb_outbox.jobs_of(events)  # forwarding jobs, written with their events
            new = self._insert_new(batch, jobs) if batch is not None else 0
            if batch is not None:  # every conversion copy's source, for the match rate
                copies.record_duckdb(self._con, events, batch)
            if rejected:
                self._insert_rejected(rejected)
        return new

    def _insert_new(self, batch: pa.Table, jobs: dict[str, Any] | None = None) -> int:
        """Insert the rows whose event_id is not stored yet; return how many.

        Finding the few already-stored ids with a semi-join on the primary-key index, then a
        plain insert, measured 1.5–2.5× faster here than ``ON CONFLICT DO NOTHING`` (which
        checks every row) at 0.5–3 M stored events. The primary key stays the guarantee.
        """
        con = self._con
        ids = batch.column("event_id")
        if pc.count_distinct(ids).as_py() < batch.num_rows:  # one event twice in the batch
            batch = batch.take(_first_copies(ids.to_pylist()))
        dups = run_on_arrow(con, _STORED_SQL, batch.select(["event_id"]))
        if dups:
            known = pa.array([d[0] for d in dups], pa.string())
            batch = batch.filter(pc.invert(pc.is_in(batch.column("event_id"), known)))
        if batch.num_rows:
            run_on_arrow(con, _INSERT_SQL, batch)
        if jobs:  # outbox jobs of the events inserted now (never of a duplicate)
            duckdb_outbox.enqueue(con, batch.column("event_id").to_pylist(), jobs)
        self._stitching.observe(con, batch)  # identity, in the same transaction
        return int(batch.num_rows)

    def replay_quarantined(self, replays: Sequence[tuple[str, Event]]) -> dict[str, ReplayStatus]:
        if not replays:
            return {}
        with self._transaction():
            return self._replay(replays)

    def _replay(self, replays: Sequence[tuple[str, Event]]) -> dict[str, ReplayStatus]:
        con = self._con
        open_ids = {
            row[0]
            for row in con.execute(
                "SELECT reject_id FROM quarantine"
                " WHERE status = 'quarantined' AND list_contains(?, reject_id)",
                [[rid for rid, _ in replays]],
            ).fetchall()
        }
        outcome = {rid: "skipped" for rid, _ in replays}
        todo = {rid: ev for rid, ev in replays if rid in open_ids}
        if self._erased():  # an erased person's row stays quarantined until the purge
            kept, _ = duckdb_privacy.drop_erased(self._erased(), list(todo.values()), ())
            keep = {id(ev) for ev in kept}
            todo = {rid: ev for rid, ev in todo.items() if id(ev) in keep}
        if not todo:
            return outcome
        seen = {
            row[0]
            for row in con.execute(
                "SELECT event_id FROM events WHERE list_contains(?, event_id)",
                [[ev.event_id for ev in todo.values()]],
            ).fetchall()
        }
        self._insert_new(to_arrow(list(todo.values())), duckdb_outbox.jobs_of(todo.values()))
        for rid, ev in todo.items():
            outcome[rid] = "duplicate" if ev.event_id in seen else "new"
            seen.add(ev.event_id)
        con.executemany(
            "UPDATE quarantine SET status = 'replayed', replayed_at = now(),"
            " replayed_event_id = ? WHERE reject_id = ?",
            [[ev.event_id, rid] for rid, ev in todo.items()],
        )
        return outcome

    def count_events(self) -> int:
        row = self._read("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def events_after(self, cursor: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events"
        params: list[Any] = []
        if cursor is not None:
            sql += " WHERE (received_at, event_id) > (?, ?)"
            params = [cursor[0], cursor[1]]
        sql += " ORDER BY received_at, event_id LIMIT ?"
        params.append(int(limit))
        cur = self._read(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def last_events(self, limit: int) -> list[dict[str, Any]]:
        cur = self._read(
            "SELECT * FROM (SELECT * FROM events ORDER BY received_at DESC, event_id DESC LIMIT ?)"
            " ORDER BY received_at, event_id",
            [int(limit)],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # -- click links and SKAdNetwork postbacks (duckdb_links) ----------------------------
    def insert_link(self, link: Link) -> None:
        with self._transaction() as con:
            duckdb_links.insert_link(con, link)

    def get_link(self, link_id: str) -> Link | None:
        cur = self._cursor()
        try:
            return duckdb_links.get_link(cur, link_id)
        finally:
            cur.close()

    def list_links(self) -> list[Link]:
        cur = self._cursor()
        try:
            return duckdb_links.list_links(cur)
        finally:
            cur.close()

    def insert_skan(self, postback: SkanPostback) -> bool:
        with self._transaction() as con:
            return duckdb_links.insert_skan(con, postback)

    def skan_summary(self, start: datetime | None, end: datetime | None) -> list[tuple[Any, ...]]:
        cur = self._cursor()
        try:
            return duckdb_links.skan_summary(cur, start, end)
        finally:
            cur.close()

    # -- spend --------------------------------------------------------------------------
    def upsert_spend(self, rows: Sequence[SpendRow], source: str = "") -> dict[str, int]:
        if not rows:
            return {"inserted": 0, "replaced": 0}
        duckdb_spend.check_unique(rows)
        with self._transaction() as con:
            try:
                return duckdb_spend.upsert(con, rows, source)
            finally:
                duckdb_spend.release(con)

    # -- attribution --------------------------------------------------------------------
    def save_credits(self, job: CreditsJob) -> int:
        where, params = ["model IN (" + ", ".join("?" for _ in job.models) + ")"], [*job.models]
        for op, day in ((">=", job.start), ("<", job.end)):
            if day is not None:
                where.append(f"converted_at {op} CAST(? AS TIMESTAMPTZ)")
                params.append(f"{day.isoformat()} 00:00:00+00:00")
        delete = f"DELETE FROM conversion_credits WHERE {' AND '.join(where)}"  # noqa: S608
        insert = f"INSERT INTO conversion_credits SELECT *, now() AS computed_at FROM ({job.sql})"  # noqa: S608
        with self._transaction() as con:
            if job.shares is not None:
                con.register("path_shares", job.shares)
            try:
                con.execute(delete, params)
                con.execute(insert, job.params)
                got = con.execute(
                    "SELECT count(*) FROM conversion_credits WHERE computed_at = now()"
                ).fetchall()
            finally:
                if job.shares is not None:
                    con.unregister("path_shares")
        return int(got[0][0])

    # -- identity -----------------------------------------------------------------------
    def replace_identity(self, rows: GraphRows, people: list[tuple[str, str]]) -> None:
        with self._transaction() as con:
            duckdb_identity.replace(con, rows, people)
            self._stitching.forget()

    def configure_identity(self, policy: StitchPolicy, at_ingest: bool = True) -> None:
        with self._lock:
            self._stitching.configure(policy, at_ingest)

    def rebuild_identity(self) -> dict[str, int]:
        with self._transaction() as con:
            return duckdb_identity.rebuild(con, self._stitching)

    # -- rights and retention (store/duckdb_privacy.py) ----------------------------------
    def _erased(self) -> frozenset[str]:
        """The tombstones, read once (the writer's lock is held); empty costs nothing."""
        if self._tombstones is None:
            self._tombstones = duckdb_privacy.load_tombstones(self._con)
        return self._tombstones

    def person_data(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        cur = self._cursor()
        try:
            return duckdb_privacy.rows(cur, person)
        finally:
            cur.close()

    def erase_person(self, person: Person, dry_run: bool = False) -> dict[str, int]:
        if dry_run:
            cur = self._cursor()
            try:
                return duckdb_privacy.count(cur, person)
            finally:
                cur.close()
        with self._transaction() as con:
            erasure_id = str(uuid.uuid4())
            at = con.execute("SELECT now()").fetchall()[0][0]
            counts, _ = duckdb_privacy.erase(con, person, erasure_id, at)
            self._stitching.forget()  # the erase deleted identity rows
            self._tombstones = None  # read again by the next append, once committed
        return counts

    def purge_before(self, before: datetime, dry_run: bool = False) -> dict[str, int]:
        with self._transaction() as con:
            counts = duckdb_privacy.purge(con, before, dry_run)
            if not dry_run and any(counts[t] for t in duckdb_identity.TABLES):
                self._stitching.forget()  # identity rows went: reload the graph when needed
        return counts

    def raw_ips(self, before: datetime) -> list[str]:
        cur = self._cursor()
        try:
            return duckdb_privacy.raw_ips(cur, before)
        finally:
            cur.close()

    def replace_ips(self, before: datetime, mapping: dict[str, str | None]) -> dict[str, int]:
        with self._transaction() as con:
            return duckdb_privacy.replace_ips(con, before, mapping)

    # -- forwarding outbox (store/duckdb_outbox.py) -------------------------------------
    def claim_jobs(
        self, destination: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[ClaimedJob]:
        with self._transaction() as con:
            jobs = duckdb_outbox.claim(con, destination, limit, lease_seconds, now)
        wanted = originals_wanted(jobs)  # adjustments' originals: read beside the writer
        if wanted:
            attach_originals(jobs, self._reading(duckdb_outbox.originals, wanted))
        return jobs

    def complete_jobs(
        self, destination: str, attempts: Sequence[Attempt], failures: int | None = None
    ) -> None:
        with self._transaction() as con:
            duckdb_outbox.complete(con, destination, attempts, failures)

    def list_jobs(
        self, status: str | None, destination: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return self._reading(duckdb_outbox.list_jobs, status, destination, limit)

    def show_jobs(self, key: str) -> dict[str, list[dict[str, Any]]]:
        return self._reading(duckdb_outbox.show, key)

    def outbox_stats(self) -> dict[str, dict[str, Any]]:
        return self._reading(duckdb_outbox.stats)

    def retry_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        with self._transaction() as con:
            return duckdb_outbox.retry(con, job_id, destination, now)

    def replay_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        with self._transaction() as con:
            return duckdb_outbox.replay(con, job_id, destination, now)

    def pause_destination(self, destination: str, reason: str, now: datetime) -> None:
        with self._transaction() as con:
            duckdb_outbox.pause(con, destination, reason, now)

    def resume_destination(self, destination: str, now: datetime) -> int:
        with self._transaction() as con:
            return duckdb_outbox.resume(con, destination, now)
