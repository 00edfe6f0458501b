"""Stitching at ingest on every engine: DuckDB keeps the graph in memory, PostgreSQL loads the
touched persons inside each append under an advisory lock. The same stream gives the same
tables on both, equal to a rebuild, also with several PostgreSQL writers appending at once."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from convtrack.events import Event, Rejected
from convtrack.identity.graph import person_id_for
from convtrack.identity.records import StitchPolicy
from convtrack.store import EventStore, open_store
from pg import PgServer

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TABLES = {
    "identity_identifiers": "kind, value, person_id, first_seen",
    "identity_people": "anonymous_id, person_id",
    "identity_merges": 'kept, absorbed, via_kind, via_value, event_id, "at"',
    "identity_refused": "person_id, other_person_id, via_kind, via_value, reason, size, cap,"
    ' event_id, "at"',
}
SMALL = StitchPolicy(
    max_person_identifiers=4, max_person_anonymous_ids=2, max_per_kind={"user_id": 1}
)
LOOSE = StitchPolicy(merge_kinds=frozenset({"anonymous_id", "user_id"}), max_per_kind={})
POLICIES = {"small caps": SMALL, "loose": LOOSE, "default": StitchPolicy()}


def event(
    n: int,
    anonymous_id: str | None = None,
    user_id: str | None = None,
    email: str | None = None,
    event_id: str | None = None,
) -> Event:
    at = T0 + timedelta(minutes=n)
    e = Event(
        event_id=event_id or f"e{n:05d}", occurred_at=at, received_at=at, event_name="page_view",
        type="page", source="tag", anonymous_id=anonymous_id, user_id=user_id,
    )  # fmt: skip
    e.hashed.email_sha256 = email
    return e


def tables(store: EventStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        name: sorted(
            (tuple(r) for r in store.query(f"SELECT {columns} FROM {name}").rows),  # noqa: S608
            key=repr,
        )
        for name, columns in TABLES.items()
    }


def opened(url: str, policy: StitchPolicy) -> EventStore:
    store = open_store(url)
    store.migrate()
    store.configure_identity(policy, at_ingest=True)
    return store


@pytest.fixture
def pg_url(pg_server: PgServer, pg_database: str) -> str:
    """A fresh schema on the session's PostgreSQL (these tests open both engines themselves)."""
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url(pg_database), autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    return pg_server.url(pg_database, f"?options=-csearch_path%3D{schema}")


@pytest.fixture
def both(tmp_path: Path, pg_url: str) -> Iterator[Callable[[StitchPolicy], list[EventStore]]]:
    opened_stores: list[EventStore] = []

    def open_both(policy: StitchPolicy) -> list[EventStore]:
        stores = [opened(f"duckdb://{tmp_path / 'stitch.duckdb'}", policy), opened(pg_url, policy)]
        opened_stores.extend(stores)
        return stores

    yield open_both
    for s in opened_stores:
        s.close()


# -- every engine -----------------------------------------------------------------------------


def test_a_login_on_two_devices_is_one_person_after_ingest(store: EventStore) -> None:
    store.configure_identity(StitchPolicy(), at_ingest=True)
    store.append([event(0, "phone"), event(1, "phone", "u1")])
    store.append([event(2, "laptop"), event(3, "laptop", "u1")])

    people = dict(store.query("SELECT anonymous_id, person_id FROM identity_people").rows)
    assert people == {"phone": person_id_for(("anonymous_id", "phone"))} | {
        "laptop": person_id_for(("anonymous_id", "phone"))
    }
    merges = store.query("SELECT kept, absorbed, via_kind, via_value FROM identity_merges").rows
    assert [tuple(m) for m in merges] == [
        (person_id_for(("anonymous_id", "phone")), person_id_for(("anonymous_id", "laptop")),
         "user_id", "u1"),
    ]  # fmt: skip


def test_a_duplicate_event_is_stitched_once(store: EventStore) -> None:
    store.configure_identity(StitchPolicy(), at_ingest=True)
    store.append([event(0, "phone", "u1")])
    first = tables(store)
    store.append([event(0, "phone", "u1"), event(0, "phone", "u1")])  # the same event id
    assert tables(store) == first


def test_a_replayed_event_is_stitched_as_an_append_is(store: EventStore) -> None:
    store.configure_identity(StitchPolicy(), at_ingest=True)
    store.append([event(0, "phone"), event(1, "laptop")], [rejected("r1")])
    assert store.replay_quarantined([("r1", event(2, "laptop", "u1"))]) == {"r1": "new"}
    store.append([event(3, "phone", "u1")])

    people = dict(store.query("SELECT anonymous_id, person_id FROM identity_people").rows)
    assert people["phone"] == people["laptop"] == person_id_for(("anonymous_id", "phone"))
    stitched = tables(store)
    store.rebuild_identity()
    assert tables(store) == stitched


def rejected(reject_id: str) -> Rejected:
    return Rejected(
        reject_id=reject_id, received_at=T0, source="server", event_name="purchase",
        payload=json.dumps({"event_name": "purchase", "anonymous_id": "laptop"}),
        reasons=[{"path": "/value", "reason": "Expected `float`"}],
    )  # fmt: skip


def test_stitching_off_writes_no_identity_rows(store: EventStore) -> None:
    store.configure_identity(StitchPolicy(), at_ingest=False)
    store.append([event(0, "phone", "u1")])
    assert all(rows == [] for rows in tables(store).values())


# -- one stream, both engines -----------------------------------------------------------------


def random_stream(rnd: random.Random, size: int) -> list[Event]:
    events = [
        event(
            rnd.randint(0, 30),  # ties are ordered by event id, as a rebuild does
            rnd.choice([None, "a1", "a2", "a3", "a4", "a5"]),
            rnd.choice([None, None, "u1", "u2", "undefined"]),
            rnd.choice([None, None, "e1", "e2"]),
            event_id=f"e{n:03d}",
        )
        for n in range(size)
    ]
    return sorted(events, key=lambda e: (e.occurred_at, e.event_id))


def batches(rnd: random.Random, events: list[Event]) -> Iterator[list[Event]]:
    """Batches of random sizes in order, each re-sending the event before it."""
    start = 0
    while start < len(events):
        size = rnd.randint(1, 8)
        yield events[start : start + size] + events[max(0, start - 1) : start]
        start += size


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("seed", range(6))
def test_duckdb_and_postgresql_stitch_a_stream_alike(
    both: Callable[[StitchPolicy], list[EventStore]], policy: StitchPolicy, seed: int
) -> None:
    rnd = random.Random(seed)
    events = random_stream(rnd, rnd.randint(10, 60))
    stores = both(policy)
    for batch in batches(rnd, events):
        for s in stores:
            s.append(batch)
    duck, pg = (tables(s) for s in stores)
    assert pg == duck
    assert duck["identity_identifiers"], "the stream stitched something"
    for s in stores:
        s.rebuild_identity()
        assert tables(s) == duck  # ingest == rebuild, on each engine


# -- several PostgreSQL writers at once -------------------------------------------------------


def test_concurrent_postgresql_writers_keep_one_person_per_linked_group(pg_url: str) -> None:
    """Four stores (as four collectors) append interleaved batches at once, each group's
    links spread over all of them, some events sent to two: every linked group ends up one
    person, every identifier stored once, and a rebuild gives the same persons."""
    groups, writers = 40, 4
    rnd = random.Random(7)
    events = []
    for g in range(groups):  # group g: 3 devices, a user id, an email: 5 identifiers
        devices = [f"g{g}-d{d}" for d in range(3)]
        events += [event(rnd.randint(0, 500), d, event_id=f"{d}-visit") for d in devices]
        links = [(devices[0], f"u{g}", None), (devices[1], f"u{g}", None),
                 (devices[2], None, f"m{g}"), (devices[1], None, f"m{g}")]  # fmt: skip
        events += [
            event(rnd.randint(0, 500), *link, event_id=f"g{g}-link{n}")
            for n, link in enumerate(links)
        ]
    rnd.shuffle(events)
    shares: list[list[Event]] = [[] for _ in range(writers)]
    for n, e in enumerate(events):
        shares[n % writers].append(e)
        if n % 5 == 0:  # also sent to the next collector
            shares[(n + 1) % writers].append(e)
    stores = [opened(pg_url, StitchPolicy()) for _ in range(writers)]  # no cap is hit
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def run(store: EventStore, share: list[Event]) -> None:
        barrier.wait()
        try:
            for start in range(0, len(share), 3):
                store.append(share[start : start + 3])
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=a) for a in zip(stores, shares, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert failures == []
        store = stores[0]
        assert store.count_events() == len({e.event_id for e in events})
        stitched = tables(store)
        persons = {
            (kind, value): person for kind, value, person, _ in stitched["identity_identifiers"]
        }
        assert len(persons) == len(stitched["identity_identifiers"]) == groups * 5
        by_group: dict[str, set[object]] = {}  # "g3-d0", "u3", "m3": group 3
        for (_, value), person in persons.items():
            by_group.setdefault(str(value).split("-")[0].lstrip("gum"), set()).add(person)
        assert len(by_group) == groups
        assert all(len(p) == 1 for p in by_group.values()), "one person per linked group"
        assert len(set(persons.values())) == groups
        seen = sorted(first for *_, first in stitched["identity_identifiers"])
        assert seen == list(range(groups * 5)), "first_seen numbers every identifier once"
        people = dict(stitched["identity_people"])
        assert len(people) == groups * 3
        assert all(people[v] == p for (k, v), p in persons.items() if k == "anonymous_id")

        store.rebuild_identity()  # the same grouping from scratch (ids may differ: order)
        rebuilt = tables(store)["identity_identifiers"]
        regroup: dict[object, set[tuple[object, object]]] = {}
        for kind, value, person, _ in rebuilt:
            regroup.setdefault(person, set()).add((kind, value))
        before: dict[object, set[tuple[object, object]]] = {}
        for key, person in persons.items():
            before.setdefault(person, set()).add(key)
        assert sorted(map(sorted, regroup.values())) == sorted(map(sorted, before.values()))
    finally:
        for s in stores:
            s.close()
