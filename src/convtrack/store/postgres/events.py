# ruff: noqa: S608  (SQL text is built from the fixed column list; values are parameters)
"""Appending events to PostgreSQL: binary COPY into a temporary table, then one insert.

``INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` names exactly the events
this transaction stored, also when several collectors append the same ids at once: the
primary key decides, and the returned ids are what counts as new and what gets outbox jobs.
COPY is what makes the batch fast (bench/pg_append.py measures it against executemany).
The caller (``PostgresStore``) holds the writer's connection inside a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import pyarrow as pa

from convtrack.events import Event
from convtrack.store import copies
from convtrack.store.arrow import COLUMNS, JSON_COLUMNS
from convtrack.store.outbox_model import DeliveryJob, job_id

BATCH = "_convtrack_batch"


def _pg_type(name: str, arrow_type: pa.DataType) -> str:
    if name in JSON_COLUMNS or pa.types.is_string(arrow_type):
        return "text"  # JSON goes in as text and is cast to jsonb by the insert
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz"
    if pa.types.is_floating(arrow_type):
        return "float8"  # value: cast to numeric(18, 6) by the insert (out of range fails)
    raise TypeError(f"no PostgreSQL type for {name}: {arrow_type}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


TYPES = [_pg_type(name, typ) for name, typ, _ in COLUMNS]
_NAMES = [_quoted(name) for name, _, _ in COLUMNS]
_SELECTED = [
    f"{q}::jsonb" if name in JSON_COLUMNS else q
    for (name, _, _), q in zip(COLUMNS, _NAMES, strict=True)
]
CREATE_BATCH = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {BATCH} ("
    + ", ".join(f"{q} {t}" for q, t in zip(_NAMES, TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)
COPY_BATCH = f"COPY {BATCH} ({', '.join(_NAMES)}) FROM STDIN (FORMAT BINARY)"
INSERT_NEW = (
    f"INSERT INTO events ({', '.join(_NAMES)}) SELECT {', '.join(_SELECTED)} FROM {BATCH}"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


def first_copies(events: Sequence[Event]) -> list[Event]:
    """The first event of each event_id (a batch may carry one event twice)."""
    first: dict[str, Event] = {}
    for event in events:
        first.setdefault(event.event_id, event)
    return list(first.values()) if len(first) < len(events) else list(events)


def rows(events: Sequence[Event]) -> Iterable[tuple[Any, ...]]:
    """Each event as a row of the events table's columns (arrow.COLUMNS order)."""
    return zip(*[list(map(get, events)) for _, _, get in COLUMNS], strict=True)


def insert_new(con: psycopg.Connection[Any], events: Sequence[Event]) -> list[str]:
    """Store the events whose id is not stored yet, in the caller's transaction; their ids."""
    events = first_copies(events)
    with con.cursor() as cur:
        with cur.copy(COPY_BATCH) as copy:
            copy.set_types(TYPES)
            for row in rows(events):
                copy.write_row(row)
        cur.execute(INSERT_NEW)
        # Rows left from an earlier insert in this transaction conflict now: never counted.
        inserted = [r[0] for r in cur.fetchall()]
    enqueue(con, inserted, jobs_of(events))
    return inserted


def jobs_of(events: Iterable[Event]) -> dict[str, list[DeliveryJob]]:
    """The delivery jobs of each event id (events already reduced to first copies)."""
    return {e.event_id: list(e.deliveries) for e in events if e.deliveries}


def enqueue(
    con: psycopg.Connection[Any], inserted: Iterable[str], jobs: dict[str, list[DeliveryJob]]
) -> int:
    """Write the outbox jobs of the events just inserted: a duplicate event gets none."""
    found = [
        (job_id(event_id, dest), event_id, dest, conversion, platform_event)
        for event_id in inserted
        for dest, conversion, platform_event in jobs.get(event_id, ())
    ]
    if not found:
        return 0
    columns = [list(c) for c in zip(*found, strict=True)]
    con.execute(
        "INSERT INTO outbox (job_id, event_id, destination, conversion, platform_event,"
        " created_at, next_attempt_at) SELECT j, e, d, c, p, now(), now()"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " AS t(j, e, d, c, p) ON CONFLICT DO NOTHING",
        columns,
    )
    return len(found)


def record_copies(con: psycopg.Connection[Any], events: Sequence[Event]) -> None:
    """Log the batch's conversion copies in ``event_copies`` (``store/copies.py``)."""
    columns = copies.tally(events)
    if columns[0]:
        con.execute(
            "INSERT INTO event_copies (event_id, source, received_at, last_received_at, copies)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[],"
            " %s::timestamptz[], %s::bigint[])",
            columns,
        )
