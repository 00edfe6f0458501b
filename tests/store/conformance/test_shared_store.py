"""Behaviours a shared store must keep on every engine: one schema, writers at once, outbox
jobs written with their events, user SQL with ``?`` parameters."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from convtrack.events import Event
from convtrack.store import EventStore
from convtrack.store.arrow import COLUMN_NAMES

Make = Callable[..., Event]
JOBS = [("meta", "purchase", "Purchase"), ("webhook", "purchase", "purchase")]


def columns(store: EventStore, table: str) -> list[str]:
    rows = store.query(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).rows
    return [r[0] for r in rows]


def test_events_table_has_the_canonical_columns(store: EventStore) -> None:
    assert sorted(columns(store, "events")) == sorted(COLUMN_NAMES)


@pytest.mark.parametrize(
    "table",
    ["write_keys", "quarantine", "spend", "conversion_credits", "identity_people",
     "identity_identifiers", "identity_merges", "identity_refused", "privacy_tombstones",
     "privacy_erasures", "outbox", "delivery_log", "destination_state", "event_copies",
     "dashboard_sessions", "alerts"],
)  # fmt: skip
def test_every_table_exists_with_columns(store: EventStore, table: str) -> None:
    assert columns(store, table)


def test_concurrent_appends_store_each_event_once(store: EventStore, event: Make) -> None:
    # Four writers with overlapping ids: every id is stored once and counted new once.
    batches = [[event(f"e{i}") for i in range(start, start + 50)] for start in (0, 25, 25, 40)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda b=b: counts.append(store.append(b))) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == store.count_events() == 90


def test_two_stores_on_one_database(
    open_migrated: Callable[[], EventStore], event: Make, engine: str
) -> None:
    if engine == "duckdb":
        pytest.skip("a DuckDB file has one writing process")
    first, second = open_migrated(), open_migrated()
    assert first.append([event("a"), event("b")]) == 2
    assert second.append([event("b"), event("c")]) == 1
    assert first.count_events() == second.count_events() == 3


def test_outbox_jobs_are_written_with_new_events_only(store: EventStore, event: Make) -> None:
    assert store.append([event("e1", deliveries=JOBS), event("plain")]) == 2
    assert store.append([event("e1", deliveries=[("tiktok", "purchase", "x")])]) == 0
    rows = store.query("SELECT job_id, status FROM outbox ORDER BY job_id").rows
    assert rows == [("e1:meta", "pending"), ("e1:webhook", "pending")]


def test_query_parameters_beside_literals_and_percent(store: EventStore, event: Make) -> None:
    store.append([event("a", order_id="100%?")])
    result = store.query(
        "SELECT '?' AS q, 7 % 4 AS m, ? AS p, order_id FROM events WHERE order_id LIKE '%?'",
        ["x"],
    )
    assert [tuple(r) for r in result.rows] == [("?", 3, "x", "100%?")]
