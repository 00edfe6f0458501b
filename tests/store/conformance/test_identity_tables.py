"""``replace_identity`` on every engine: the graph's rows round-trip, a replace is whole, and
a failed one keeps what was stored; a rebuild stitches the stored events. (Stitching at ingest:
test_identity_at_ingest.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from convtrack.events import Event
from convtrack.identity import GraphRows
from convtrack.identity.records import StitchPolicy
from convtrack.store import EventStore
from convtrack.store.process import StoreProcess

Make = Callable[..., Event]

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROWS = GraphRows(
    identifiers=[("anonymous_id", "a1", "person:1", 0), ("user_id", "u1", "person:1", 1)],
    merges=[("person:1", "person:2", "user_id", "u1", "e2", AT)],
    refused=[("person:1", "person:3", "user_id", "u9", "max_person_anonymous_ids", 3, 2,
              "e3", AT)],
)  # fmt: skip
PEOPLE = [("a1", "person:1"), ("a2", "person:1")]
TABLES = {
    "identity_identifiers": ["kind", "value", "person_id", "first_seen"],
    "identity_merges": ["kept", "absorbed", "via_kind", "via_value", "event_id", '"at"'],
    "identity_refused": ["person_id", "other_person_id", "via_kind", "via_value", "reason",
                         "size", "cap", "event_id", '"at"'],
    "identity_people": ["anonymous_id", "person_id"],
}  # fmt: skip


def stored(store: EventStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: [
            tuple(r)
            for r in store.query(
                f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols)}"  # noqa: S608
            ).rows
        ]
        for table, cols in TABLES.items()
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


@pytest.mark.parametrize(
    ("rows", "people"),
    [
        (GraphRows([], [], []), [("a1", "person:1"), ("a1", "person:2")]),
        (GraphRows([*ROWS.identifiers, ("user_id", "u1", "person:2", 2)], [], []), []),
    ],
    ids=["anonymous_id twice", "identifier twice"],
)
def test_a_failed_replace_keeps_the_stored_graph(
    store: EventStore, rows: GraphRows, people: list[tuple[str, str]]
) -> None:
    store.replace_identity(ROWS, PEOPLE)
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        store.replace_identity(rows, people)
    assert stored(store)["identity_people"] == PEOPLE
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


def test_rebuild_stitches_the_stored_events(store: EventStore, event: Make) -> None:
    store.configure_identity(StitchPolicy(), at_ingest=False)
    store.append(
        [
            event("e0", anonymous_id="laptop", received_at=AT - timedelta(1)),
            event("e1", anonymous_id="phone"),
            event("e2", anonymous_id="phone", user_id="u1", received_at=AT + timedelta(1)),
            event("e3", anonymous_id="laptop", user_id="u1", received_at=AT + timedelta(2)),
            event("e4", anonymous_id="other", received_at=AT + timedelta(3)),
        ]
    )
    assert store.rebuild_identity() == {
        "events": 5, "identifiers": 4, "persons": 2, "merges": 1, "refused": 0,
    }  # fmt: skip
    people = dict(store.query("SELECT anonymous_id, person_id FROM identity_people").rows)
    assert people["phone"] == people["laptop"] != people["other"]
    assert store.rebuild_identity()["persons"] == 2  # a second rebuild replaces the first
