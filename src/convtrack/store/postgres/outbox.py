# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""The forwarding outbox in PostgreSQL: claim with a lease, complete, operator commands.

Jobs are written by ``append`` (store/postgres/events.py). A claim locks the due rows it takes
with ``FOR UPDATE SKIP LOCKED``: several workers (in several collectors) claiming one
destination at once each get other jobs, and none waits on another. Semantics follow the
DuckDB outbox (store/duckdb_outbox.py, migration 0011). Writes run in the caller's transaction;
reads take a cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from convtrack.store.outbox_model import (
    FORWARDED_COLUMNS,
    ORIGINAL_COLUMNS,
    Attempt,
    ClaimedJob,
    attach_originals,
    empty_stats,
    originals_wanted,
    originals_where_order,
)

JOB_COLUMNS = (
    "job_id", "event_id", "destination", "conversion", "platform_event", "status", "attempts",
    "created_at", "next_attempt_at", "lease_until", "delivered_at", "last_error",
)  # fmt: skip
_JOB_FIELDS = 6  # the claim query's job columns, before the event's
# What a delivery reads, as on DuckDB (only hashes: never the raw personal data column).
_EVENT_COLUMNS = ", ".join(f'e."{c}"' for c in FORWARDED_COLUMNS)
_CLAIM = (
    "WITH due AS (SELECT job_id FROM outbox WHERE destination = %s"
    " AND ((status = 'pending' AND next_attempt_at <= %s)"
    " OR (status = 'inflight' AND lease_until <= %s))"
    " ORDER BY next_attempt_at, job_id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " UPDATE outbox o SET status = 'inflight', attempts = o.attempts + 1, lease_until = %s"
    " FROM due WHERE o.job_id = due.job_id RETURNING o.job_id"
)
_CLAIMED = (
    "SELECT o.job_id, o.event_id, o.conversion, o.platform_event, o.attempts, o.created_at,"
    f" {_EVENT_COLUMNS} FROM outbox o LEFT JOIN events e ON e.event_id = o.event_id"
    " WHERE o.job_id = ANY(%s) ORDER BY o.created_at, o.job_id"
)
# As on DuckDB (outbox_model.originals_where_order says which event is the original).
_ORIGINALS = (
    "SELECT DISTINCT ON (w.order_id, w.conversion) w.order_id, w.conversion, "
    + ", ".join(f'e."{c}"' for c in ORIGINAL_COLUMNS)
    + " FROM unnest(%s::text[], %s::text[]) AS w(order_id, conversion)"
    + originals_where_order("%%")
)
_ATTEMPTS = (
    "unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::timestamptz[], %s::int[],"
    " %s::float8[], %s::text[]) AS a(job_id, event_id, outcome, attempt, next_attempt_at,"
    " http_status, latency_ms, excerpt)"
)


def is_paused(con: psycopg.Connection[Any], destination: str) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM destination_state WHERE destination = %s AND paused_at IS NOT NULL",
            [destination],
        ).fetchall()
    )


def claim(
    con: psycopg.Connection[Any], destination: str, limit: int, lease: float, now: datetime
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs (pending and due, or inflight with a lapsed lease), each
    with the FORWARDED_COLUMNS of its stored event, as a dict of those not NULL in every
    claimed event (None: no longer stored)."""
    if is_paused(con, destination):
        return []
    claimed = con.execute(
        _CLAIM, [destination, now, now, int(limit), now + timedelta(seconds=lease)]
    ).fetchall()
    if not claimed:
        return []
    cur = con.execute(_CLAIMED, [[r[0] for r in claimed]])
    names = [d.name for d in cur.description or ()][_JOB_FIELDS:]
    rows = cur.fetchall()
    # As on DuckDB: each event without the columns NULL in every claimed event (read .get).
    used = [i for i in range(len(names)) if any(r[_JOB_FIELDS + i] is not None for r in rows)]
    jobs = []
    for jid, eid, conv, pe, attempts, created, *values in rows:
        event = None
        if values[0] is not None:  # the event's event_id: NULL when it is gone
            event = {names[i]: values[i] for i in used}
        jobs.append(ClaimedJob(jid, eid, destination, conv, pe, int(attempts), created, event))
    attach_originals(jobs, originals(con, originals_wanted(jobs)))
    return jobs


def originals(
    con: psycopg.Connection[Any], wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The original conversion of each wanted (order id, conversion), in one query: a dict of
    its ORIGINAL_COLUMNS that are not NULL (never the raw personal data column)."""
    if not wanted:
        return {}
    pairs = sorted(wanted)
    cur = con.execute(_ORIGINALS, [[p[0] for p in pairs], [p[1] for p in pairs]])
    names = [d.name for d in cur.description or ()][2:]
    return {
        (order, conversion): {n: v for n, v in zip(names, values, strict=True) if v is not None}
        for order, conversion, *values in cur.fetchall()
    }


def complete(
    con: psycopg.Connection[Any],
    destination: str,
    attempts: Sequence[Attempt],
    consecutive_failures: int | None,
) -> None:
    """Record the attempts: job status, delivery_log rows and the destination's failure run.
    A job that is already delivered stays delivered (a late answer cannot undo it)."""
    if attempts:
        fields = ("job_id", "event_id", "outcome", "attempt", "next_attempt_at", "http_status",
                  "latency_ms", "excerpt")  # fmt: skip
        columns = [[getattr(a, f) for a in attempts] for f in fields]
        con.execute(
            "UPDATE outbox o SET"
            " status = CASE a.outcome WHEN 'retry' THEN 'pending' ELSE a.outcome END,"
            " next_attempt_at = coalesce(a.next_attempt_at, o.next_attempt_at),"
            " lease_until = NULL,"
            " delivered_at = CASE WHEN a.outcome = 'delivered' THEN now() END,"
            " last_error = CASE WHEN a.outcome = 'delivered' THEN NULL ELSE a.excerpt END"
            f" FROM {_ATTEMPTS} WHERE o.job_id = a.job_id AND o.status <> 'delivered'",
            columns,
        )
        con.execute(
            'INSERT INTO delivery_log (job_id, event_id, destination, attempt, "at", outcome,'
            " http_status, latency_ms, excerpt) SELECT job_id, event_id, %s, attempt, now(),"
            f" outcome, http_status, latency_ms, excerpt FROM {_ATTEMPTS}",
            [destination, *columns],
        )
    if consecutive_failures is not None:
        con.execute(
            "INSERT INTO destination_state (destination, consecutive_failures) VALUES (%s, %s)"
            " ON CONFLICT (destination) DO UPDATE"
            " SET consecutive_failures = excluded.consecutive_failures",
            [destination, int(consecutive_failures)],
        )


# -- operator ---------------------------------------------------------------------------------
def _rows(cur: psycopg.Cursor[Any]) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _filters(**given: str | None) -> tuple[str, list[Any]]:
    clauses = [f"{column} = %s" for column, value in given.items() if value is not None]
    params = [value for value in given.values() if value is not None]
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def list_jobs(
    cur: psycopg.Cursor[Any], status: str | None, destination: str | None, limit: int
) -> list[dict[str, Any]]:
    where, params = _filters(status=status, destination=destination)
    cur.execute(
        f"SELECT {', '.join(JOB_COLUMNS)} FROM outbox {where}"
        " ORDER BY created_at DESC, job_id LIMIT %s",
        [*params, int(limit)],
    )
    return _rows(cur)


def show(cur: psycopg.Cursor[Any], key: str) -> dict[str, list[dict[str, Any]]]:
    """The jobs with this job id or event id, and their delivery log (oldest first)."""
    cur.execute(
        f"SELECT {', '.join(JOB_COLUMNS)} FROM outbox WHERE job_id = %s OR event_id = %s"
        " ORDER BY destination",
        [key, key],
    )
    jobs = _rows(cur)
    cur.execute(
        'SELECT job_id, event_id, destination, attempt, "at", outcome, http_status,'
        " latency_ms, excerpt FROM delivery_log WHERE job_id = ANY(%s)"
        ' ORDER BY "at", job_id, attempt',
        [[j["job_id"] for j in jobs]],
    )
    return {"jobs": jobs, "log": _rows(cur)}


def retry(con: psycopg.Connection[Any], job: str | None, dest: str | None, now: datetime) -> int:
    """Make pending jobs due now (waiting retries, or jobs of a paused destination)."""
    where, params = _filters(job_id=job, destination=dest)
    where = (where + " AND" if where else "WHERE") + " status = 'pending'"
    return con.execute(f"UPDATE outbox SET next_attempt_at = %s {where}", [now, *params]).rowcount


def replay(con: psycopg.Connection[Any], job: str | None, dest: str | None, now: datetime) -> int:
    """Dead letters → pending, due now, with their attempts counted afresh."""
    where, params = _filters(job_id=job, destination=dest)
    where = (where + " AND" if where else "WHERE") + " status = 'dead'"
    return con.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = %s,"
        f" lease_until = NULL {where}",
        [now, *params],
    ).rowcount


def pause(con: psycopg.Connection[Any], destination: str, reason: str, now: datetime) -> None:
    con.execute(
        "INSERT INTO destination_state (destination, paused_at, reason) VALUES (%s, %s, %s)"
        " ON CONFLICT (destination) DO UPDATE"
        " SET paused_at = excluded.paused_at, reason = excluded.reason",
        [destination, now, reason],
    )


def resume(con: psycopg.Connection[Any], destination: str, now: datetime) -> int:
    """Unpause, forget the failure run, and make the destination's pending jobs due now."""
    con.execute(
        "INSERT INTO destination_state (destination, paused_at, reason, consecutive_failures)"
        " VALUES (%s, NULL, NULL, 0) ON CONFLICT (destination) DO UPDATE"
        " SET paused_at = NULL, reason = NULL, consecutive_failures = 0",
        [destination],
    )
    return retry(con, None, destination, now)


def stats(cur: psycopg.Cursor[Any]) -> dict[str, dict[str, Any]]:
    """Per destination: jobs per status, whether (and why) it is paused, the oldest job not
    yet delivered."""
    found: dict[str, dict[str, Any]] = {}
    cur.execute("SELECT destination, status, count(*) FROM outbox GROUP BY 1, 2 ORDER BY 1, 2")
    for dest, status, n in cur.fetchall():
        found.setdefault(dest, empty_stats())[status] = int(n)
    cur.execute(
        "SELECT destination, paused_at, reason, consecutive_failures FROM destination_state"
    )
    for dest, paused_at, reason, failures in cur.fetchall():
        entry = found.setdefault(dest, empty_stats())
        entry.update(paused_at=paused_at, reason=reason, consecutive_failures=int(failures))
    cur.execute(
        "SELECT destination, min(created_at) FROM outbox"
        " WHERE status IN ('pending', 'inflight') GROUP BY 1"
    )
    for dest, oldest in cur.fetchall():
        found.setdefault(dest, empty_stats())["oldest_pending_at"] = oldest
    return found
