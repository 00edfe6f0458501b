"""``replace_identity``: the identity graph's rows round-trip, and each call replaces them all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from convtrack.identity import GraphRows
from convtrack.store import EventStore
from convtrack.store.process import StoreProcess

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROWS = GraphRows(
    identifiers=[("anonymous_id", "a1", "person:1", 0), ("user_id", "u1", "person:1", 1)],
    merges=[("person:1", "person:2", "user_id", "u1", "e2", AT)],
    refused=[("person:1", "person:3", "user_id", "u9", "max_person_anonymous_ids", 3, 2,
              "e3", AT)],
)  # fmt: skip
PEOPLE = [("a1", "person:1"), ("a2", "person:1")]
TABLES = {
    "identity_identifiers": "kind, value, person_id, first_seen",
    "identity_merges": 'kept, absorbed, via_kind, via_value, event_id, "at"',
    "identity_refused": "person_id, other_person_id, via_kind, via_value, reason, size, cap,"
    ' event_id, "at"',
    "identity_people": "anonymous_id, person_id",
}


def stored(store: EventStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: store.query(f"SELECT {columns} FROM {table} ORDER BY ALL").rows  # noqa: S608
        for table, columns in TABLES.items()
    }


def test_identity_rows_round_trip(store: EventStore) -> None:
    store.replace_identity(ROWS, PEOPLE)
    assert stored(store) == {
        "identity_identifiers": ROWS.identifiers,
        "identity_merges": ROWS.merges,
        "identity_refused": ROWS.refused,
        "identity_people": PEOPLE,
    }


def test_a_second_replace_replaces_everything(store: EventStore) -> None:
    store.replace_identity(ROWS, PEOPLE)
    store.replace_identity(GraphRows([("anonymous_id", "b", "person:b", 0)], [], []), [])
    assert stored(store) == {
        "identity_identifiers": [("anonymous_id", "b", "person:b", 0)],
        "identity_merges": [],
        "identity_refused": [],
        "identity_people": [],
    }


def test_a_failed_replace_keeps_the_stored_graph(store: EventStore) -> None:
    store.replace_identity(ROWS, PEOPLE)
    twice = [("a1", "person:1"), ("a1", "person:2")]  # breaks identity_people's primary key
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        store.replace_identity(GraphRows([], [], []), twice)
    assert stored(store)["identity_people"] == PEOPLE
    assert stored(store)["identity_identifiers"] == ROWS.identifiers


def test_a_replace_with_an_identifier_twice_fails(store: EventStore) -> None:
    store.replace_identity(ROWS, PEOPLE)
    twice = GraphRows([*ROWS.identifiers, ("user_id", "u1", "person:2", 2)], [], [])
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        store.replace_identity(twice, [])
    assert stored(store)["identity_identifiers"] == ROWS.identifiers


@pytest.fixture
def process(store_url: str) -> Iterator[StoreProcess]:
    proc = StoreProcess(store_url, {}, queue_max_events=10)
    proc.store.migrate()
    yield proc
    proc.stop()


def test_the_store_process_forwards_replace_identity(process: StoreProcess) -> None:
    process.store.replace_identity(ROWS, PEOPLE)
    assert stored(process.store)["identity_people"] == PEOPLE
