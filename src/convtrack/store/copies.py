"""Every accepted copy of a conversion, by source: the rows of the ``event_copies`` log.

``events`` keeps one row per ``event_id``, so when a browser tag and a backend both send a
purchase under one id, the second copy is (rightly) not stored and its source is lost. The
browser-vs-server match rate (``qa/health.py``) needs exactly that source, so each append
also logs its conversions per ``(event_id, source)``, all copies, the duplicates included, in
the same transaction as the events, on both engines. A conversion here is an event the
pipeline marked ``Event.conversion`` (the plan defines conversions on its name) or one sent
as ``type = 'conversion'``. Only those are logged: they are the events whose copies are worth
matching, and a small share of traffic.

The log is append-only (one row per append and key, no primary key): an upsert measured about
three times the cost of a plain insert on DuckDB, and on PostgreSQL it would make concurrent
collectors wait on each other's rows. Readers sum ``copies`` per event id and source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from convtrack.events import Event
from convtrack.store.duckdb_base import ARROW_ROWS, run_on_arrow

CONVERSION = "conversion"


def is_conversion(event: Event) -> bool:
    return event.conversion or event.type == CONVERSION


def tally(events: Sequence[Event]) -> list[list[object]]:
    """The batch's conversions per (event_id, source), as five columns in key order:
    event_id, source, first arrival, last arrival, copies."""
    found: dict[tuple[str, str], list[datetime]] = {}
    for e in events:
        if is_conversion(e):
            found.setdefault((e.event_id, e.source), []).append(e.received_at)
    keys = sorted(found)
    return [
        [k[0] for k in keys],
        [k[1] for k in keys],
        [min(found[k]) for k in keys],
        [max(found[k]) for k in keys],
        [len(found[k]) for k in keys],
    ]


def record_duckdb(con: duckdb.DuckDBPyConnection, events: Sequence[Event], batch: pa.Table) -> int:
    """Log the conversion copies of ``events`` (whose Arrow form is ``batch``, duplicates
    included) in the caller's transaction; the number of rows written.

    The rows are grouped by Arrow and inserted as they are: the ``INSERT … GROUP BY`` this
    replaces cost ~3 ms per 1000-event append (docs/benchmarks.md)."""
    keep = [is_conversion(e) for e in events]
    if not any(keep):
        return 0
    picked = batch.filter(pa.array(keep, pa.bool_())).select(["event_id", "source", "received_at"])
    rows = picked.group_by(["event_id", "source"], use_threads=False).aggregate(
        [("received_at", "min"), ("received_at", "max"), ([], "count_all")]
    )
    run_on_arrow(con, _INSERT_SQL, rows)
    return int(rows.num_rows)


_INSERT_SQL = (
    "INSERT INTO event_copies (event_id, source, received_at, last_received_at, copies)"  # noqa: S608
    f" SELECT event_id, source, received_at_min, received_at_max, count_all FROM {ARROW_ROWS}"
)
