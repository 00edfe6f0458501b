# ruff: noqa: S608  (SQL text is fixed here; every value is a ? parameter)
"""The forwarding outbox in DuckDB: enqueue at append, claim with a lease, complete, and the
operator's list/show/retry/replay/pause/resume. See migration 0011_outbox.

The caller (``DuckDBStore``) holds the writer's lock and the transaction for writes, and
passes a reader cursor for reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from convtrack.events import Event
from convtrack.store.duckdb_base import ARROW_ROWS, run_on_arrow
from convtrack.store.outbox_model import (
    FORWARDED_COLUMNS,
    ORIGINAL_COLUMNS,
    Attempt,
    ClaimedJob,
    DeliveryJob,
    empty_stats,
    job_id,
    originals_where_order,
)

JOB_COLUMNS = (
    "job_id", "event_id", "destination", "conversion", "platform_event", "status", "attempts",
    "created_at", "next_attempt_at", "lease_until", "delivered_at", "last_error",
)  # fmt: skip
LOG_COLUMNS = (
    "job_id", "event_id", "destination", "attempt", "at", "outcome", "http_status",
    "latency_ms", "excerpt",
)  # fmt: skip
_TS = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXACT = 2**32 * 10**6  # µs: below it, a float of seconds rounds back to the microsecond


def jobs_of(events: Iterable[Event]) -> dict[str, list[DeliveryJob]]:
    """The delivery jobs of each event id (the first copy of an id wins, as in the insert)."""
    found: dict[str, list[DeliveryJob]] = {}
    for event in events:
        if event.deliveries and event.event_id not in found:
            found[event.event_id] = list(event.deliveries)
    return found


def enqueue(
    con: duckdb.DuckDBPyConnection, inserted: Iterable[str], jobs: dict[str, list[DeliveryJob]]
) -> int:
    """Write the jobs of the events just inserted (``inserted``: their ids), in the caller's
    transaction. An event that was already stored is not in ``inserted``: no second job."""
    rows = [
        (job_id(event_id, dest), event_id, dest, conversion, platform_event)
        for event_id in inserted
        for dest, conversion, platform_event in jobs.get(event_id, ())
    ]
    if not rows:
        return 0
    names = ("job_id", "event_id", "destination", "conversion", "platform_event")
    table = pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})
    run_on_arrow(con, _ENQUEUE_SQL, table)
    return len(rows)


_ENQUEUE_SQL = (
    "INSERT INTO outbox (job_id, event_id, destination, conversion, platform_event,"
    " created_at, next_attempt_at) SELECT job_id, event_id, destination, conversion,"
    f" platform_event, now(), now() FROM {ARROW_ROWS} ON CONFLICT DO NOTHING"
)


def is_paused(con: duckdb.DuckDBPyConnection, destination: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM destination_state WHERE destination = ? AND paused_at IS NOT NULL",
        [destination],
    ).fetchall()
    return bool(row)


def claim(
    con: duckdb.DuckDBPyConnection, destination: str, limit: int, lease: float, now: datetime
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs (pending and due, or inflight with a lapsed lease), each
    with its stored event (never the raw personal data column: only hashes are forwarded)."""
    if is_paused(con, destination):
        return []
    due = con.execute(
        "SELECT job_id FROM outbox WHERE destination = ?"
        " AND ((status = 'pending' AND next_attempt_at <= ?)"
        " OR (status = 'inflight' AND lease_until <= ?))"
        " ORDER BY next_attempt_at, job_id LIMIT ?",
        [destination, now, now, int(limit)],
    ).fetchall()
    if not due:
        return []
    # UPDATE … RETURNING measured ~15x slower here than UPDATE, then SELECT, in one transaction
    con.register("_claimed", pa.table({"job_id": pa.array([r[0] for r in due], pa.string())}))
    try:
        con.execute(
            "UPDATE outbox SET status = 'inflight', attempts = attempts + 1, lease_until = ?"
            " FROM _claimed c WHERE outbox.job_id = c.job_id",
            [now + timedelta(seconds=lease)],
        )
        # the jobs and their events in one query, as columns (Arrow): converting 4,000 rows
        # value by value through fetchall() cost ~12 µs an event, this ~3 µs
        table = con.sql(_CLAIMED_SQL).to_arrow_table()
    finally:
        con.unregister("_claimed")
    return _claimed_jobs(table, destination)  # the store attaches the originals (a read)


_ORIGINAL_COLUMNS = ", ".join(f'e."{c}"' for c in ORIGINAL_COLUMNS)
_ORIGINALS_SQL = (
    "SELECT DISTINCT ON (w.order_id, w.conversion) w.order_id AS _order_id,"
    f" w.conversion AS _conversion, {_ORIGINAL_COLUMNS} FROM _wanted w" + originals_where_order()
)


def originals(
    con: duckdb.DuckDBPyConnection, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The original conversion of each wanted (order id, conversion), in one query: a dict of
    its ORIGINAL_COLUMNS that are not NULL (never the raw personal data column)."""
    if not wanted:
        return {}
    pairs = sorted(wanted)
    con.register(
        "_wanted",
        pa.table(
            {
                "order_id": pa.array([p[0] for p in pairs], pa.string()),
                "conversion": pa.array([p[1] for p in pairs], pa.string()),
            }
        ),
    )
    try:
        cur = con.execute(_ORIGINALS_SQL)
        names = [d[0] for d in cur.description][2:]
        rows = cur.fetchall()
    finally:
        con.unregister("_wanted")
    return {
        (order, conversion): {n: v for n, v in zip(names, values, strict=True) if v is not None}
        for order, conversion, *values in rows
    }


_EVENT_COLUMNS = ", ".join(f'e."{c}"' for c in FORWARDED_COLUMNS)
#: the claimed jobs (job columns first, prefixed ``_``), each with the columns of its stored
#: event that a delivery reads, or NULLs
_CLAIMED_SQL = (
    "SELECT o.job_id AS _job_id, o.event_id AS _event_id, o.conversion AS _conversion,"
    " o.platform_event AS _platform_event, o.attempts AS _attempts, o.created_at AS _created_at,"
    f" {_EVENT_COLUMNS} FROM outbox o SEMI JOIN _claimed c ON o.job_id = c.job_id"
    " LEFT JOIN events e ON e.event_id = o.event_id ORDER BY o.created_at, o.job_id"
)
_JOB_FIELDS = 6


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column's Python values, as ``fetchall`` gives them, by the quickest way found for the
    types pyarrow converts slowly (µs a value, 4,000 rows): a UTC timestamp through its integer
    microseconds (pyarrow's own conversion ~9, this ~0.3), a decimal through its text
    (``Decimal(str)``: 0.2, pyarrow's 0.55)."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        micros = column.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.int64()).to_pylist()
        return [None if us is None else _utc(us) for us in micros]
    if pa.types.is_decimal(kind):
        return [
            None if text is None else Decimal(text) for text in column.cast(pa.string()).to_pylist()
        ]
    return column.to_pylist()


def _utc(micros: int) -> datetime:
    """``_EPOCH + timedelta(microseconds=micros)``, ~0.25 µs quicker: a double holds every
    microsecond up to 2**32 s (year 2106) closely enough for ``fromtimestamp`` to round back
    to it exactly (tests/forward/test_claimed_columns.py checks)."""
    if -_EXACT < micros < _EXACT:
        return datetime.fromtimestamp(micros / 1e6, UTC)
    return _EPOCH + timedelta(microseconds=micros)


def _claimed_jobs(table: pa.Table, destination: str) -> list[ClaimedJob]:
    """``ClaimedJob`` values from the claim query's columns. Each event is a dict of its
    columns as ``fetchall`` gives them, less those NULL in every claimed event (read with
    ``.get``): a conversion has ~13 of the 33 :data:`FORWARDED_COLUMNS`."""
    n = table.num_rows
    used = [i for i, c in enumerate(table.columns) if i <= _JOB_FIELDS or c.null_count < n]
    names = [table.column_names[i] for i in used[_JOB_FIELDS:]]  # event_id first, always
    columns = [_values(table.column(i)) for i in used]
    events = [
        dict(zip(names, values, strict=True)) if values[0] is not None else None
        for values in zip(*columns[_JOB_FIELDS:], strict=True)
    ]
    return [
        ClaimedJob(jid, eid, destination, conv, pe, int(attempts), created, event)
        for (jid, eid, conv, pe, attempts, created), event in zip(
            zip(*columns[:_JOB_FIELDS], strict=True), events, strict=True
        )
    ]


def complete(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    attempts: Sequence[Attempt],
    consecutive_failures: int | None,
) -> None:
    """Record the attempts: job status, delivery_log rows and the destination's failure run.

    A job that is already delivered stays delivered (a late answer cannot undo it)."""
    if attempts:
        con.register("_attempts", _attempts_table(attempts))
        try:
            con.execute(
                "UPDATE outbox SET"
                " status = CASE a.outcome WHEN 'retry' THEN 'pending' ELSE a.outcome END,"
                " next_attempt_at = coalesce(a.next_attempt_at, outbox.next_attempt_at),"
                " lease_until = NULL,"
                " delivered_at = CASE WHEN a.outcome = 'delivered' THEN now() END,"
                " last_error = CASE WHEN a.outcome = 'delivered' THEN NULL ELSE a.excerpt END"
                " FROM _attempts a WHERE outbox.job_id = a.job_id"
                " AND outbox.status <> 'delivered'"
            )
            con.execute(
                'INSERT INTO delivery_log (job_id, event_id, destination, attempt, "at",'
                " outcome, http_status, latency_ms, excerpt) SELECT job_id, event_id, ?,"
                " attempt, now(), outcome, http_status, latency_ms, excerpt FROM _attempts",
                [destination],
            )
        finally:
            con.unregister("_attempts")
    if consecutive_failures is not None:
        con.execute(
            "INSERT INTO destination_state (destination, consecutive_failures) VALUES (?, ?)"
            " ON CONFLICT (destination) DO UPDATE"
            " SET consecutive_failures = excluded.consecutive_failures",
            [destination, int(consecutive_failures)],
        )


def _attempts_table(attempts: Sequence[Attempt]) -> pa.Table:
    def column(name: str, typ: pa.DataType) -> pa.Array:
        return pa.array([getattr(a, name) for a in attempts], typ)

    return pa.table(
        {
            "job_id": column("job_id", pa.string()),
            "event_id": column("event_id", pa.string()),
            "outcome": column("outcome", pa.string()),
            "attempt": column("attempt", pa.int32()),
            "next_attempt_at": column("next_attempt_at", _TS),
            "http_status": column("http_status", pa.int32()),
            "latency_ms": column("latency_ms", pa.float64()),
            "excerpt": column("excerpt", pa.string()),
        }
    )


# -- operator ---------------------------------------------------------------------------------
def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def list_jobs(
    cur: duckdb.DuckDBPyConnection, status: str | None, destination: str | None, limit: int
) -> list[dict[str, Any]]:
    where, params = _filters(status=status, destination=destination)
    return _rows(
        cur.execute(
            f"SELECT {', '.join(JOB_COLUMNS)} FROM outbox {where}"
            " ORDER BY created_at DESC, job_id LIMIT ?",
            [*params, int(limit)],
        )
    )


def show(cur: duckdb.DuckDBPyConnection, key: str) -> dict[str, list[dict[str, Any]]]:
    """The jobs with this job id or event id, and their delivery log (oldest first)."""
    jobs = _rows(
        cur.execute(
            f"SELECT {', '.join(JOB_COLUMNS)} FROM outbox WHERE job_id = ? OR event_id = ?"
            " ORDER BY destination",
            [key, key],
        )
    )
    ids = [j["job_id"] for j in jobs]
    log = _rows(
        cur.execute(
            'SELECT job_id, event_id, destination, attempt, "at", outcome, http_status,'
            " latency_ms, excerpt FROM delivery_log WHERE list_contains(?::VARCHAR[], job_id)"
            ' ORDER BY "at", job_id, attempt',
            [ids],
        )
    )
    return {"jobs": jobs, "log": log}


def _filters(**given: str | None) -> tuple[str, list[Any]]:
    clauses = [f"{column} = ?" for column, value in given.items() if value is not None]
    params = [value for value in given.values() if value is not None]
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def retry(
    con: duckdb.DuckDBPyConnection, job: str | None, destination: str | None, now: datetime
) -> int:
    """Make pending jobs due now (waiting retries, or jobs of a paused destination)."""
    where, params = _filters(job_id=job, destination=destination)
    where = (where + " AND" if where else "WHERE") + " status = 'pending'"
    rows = con.execute(
        f"UPDATE outbox SET next_attempt_at = ? {where} RETURNING job_id", [now, *params]
    ).fetchall()
    return len(rows)


def replay(
    con: duckdb.DuckDBPyConnection, job: str | None, destination: str | None, now: datetime
) -> int:
    """Dead letters → pending, due now, with their attempts counted afresh. Only dead jobs:
    a delivered job is never sent again, and a job exists once per event and destination."""
    where, params = _filters(job_id=job, destination=destination)
    where = (where + " AND" if where else "WHERE") + " status = 'dead'"
    rows = con.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
        f" lease_until = NULL {where} RETURNING job_id",
        [now, *params],
    ).fetchall()
    return len(rows)


def pause(con: duckdb.DuckDBPyConnection, destination: str, reason: str, now: datetime) -> None:
    con.execute(
        "INSERT INTO destination_state (destination, paused_at, reason) VALUES (?, ?, ?)"
        " ON CONFLICT (destination) DO UPDATE"
        " SET paused_at = excluded.paused_at, reason = excluded.reason",
        [destination, now, reason],
    )


def resume(con: duckdb.DuckDBPyConnection, destination: str, now: datetime) -> int:
    """Unpause, forget the failure run, and make the destination's pending jobs due now."""
    con.execute(
        "INSERT INTO destination_state (destination, paused_at, reason, consecutive_failures)"
        " VALUES (?, NULL, NULL, 0) ON CONFLICT (destination) DO UPDATE"
        " SET paused_at = NULL, reason = NULL, consecutive_failures = 0",
        [destination],
    )
    return retry(con, None, destination, now)


def stats(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per destination: jobs per status, and whether (and why) it is paused."""
    found: dict[str, dict[str, Any]] = {}
    for dest, status, n in cur.execute(
        "SELECT destination, status, count(*) FROM outbox GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        found.setdefault(dest, empty_stats())[status] = int(n)
    for dest, paused_at, reason, failures in cur.execute(
        "SELECT destination, paused_at, reason, consecutive_failures FROM destination_state"
    ).fetchall():
        entry = found.setdefault(dest, empty_stats())
        entry.update(paused_at=paused_at, reason=reason, consecutive_failures=int(failures))
    for dest, oldest in cur.execute(  # the oldest job not yet delivered (status figures)
        "SELECT destination, min(created_at) FROM outbox"
        " WHERE status IN ('pending', 'inflight') GROUP BY ALL"
    ).fetchall():
        found.setdefault(dest, empty_stats())["oldest_pending_at"] = oldest
    return found
