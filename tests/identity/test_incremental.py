"""Stitching at ingest on a real DuckDB file: each append keeps the identity tables in step."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtrack.config import load_settings
from convtrack.events import Event, Rejected
from convtrack.identity import StitchPolicy
from convtrack.identity.graph import person_id_for
from convtrack.store import EventStore, open_store

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TABLES = {
    "identity_identifiers": "kind, value, person_id, first_seen",
    "identity_people": "anonymous_id, person_id",
    "identity_merges": 'kept, absorbed, via_kind, via_value, event_id, "at"',
    "identity_refused": "person_id, other_person_id, via_kind, via_value, reason, size, cap,"
    ' event_id, "at"',
}


def event(n: int, anonymous_id: str | None = None, user_id: str | None = None,
          email: str | None = None, event_id: str | None = None) -> Event:  # fmt: skip
    at = T0 + timedelta(minutes=n)
    e = Event(
        event_id=event_id or f"e{n:05d}", occurred_at=at, received_at=at, event_name="page_view",
        type="page", source="tag", anonymous_id=anonymous_id, user_id=user_id,
    )  # fmt: skip
    e.hashed.email_sha256 = email
    return e


def opened(path: Path, policy: StitchPolicy | None = None, at_ingest: bool = True) -> EventStore:
    store = open_store(f"duckdb://{path}")
    store.migrate()
    store.configure_identity(policy or StitchPolicy(), at_ingest)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    s = opened(tmp_path / "stitch.duckdb")
    yield s
    s.close()


def tables(store: EventStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        name: store.query(f"SELECT {columns} FROM {name} ORDER BY ALL").rows  # noqa: S608
        for name, columns in TABLES.items()
    }


def person(store: EventStore, anonymous_id: str) -> str:
    rows = store.query(
        "SELECT person_id FROM identity_people WHERE anonymous_id = ?", [anonymous_id]
    ).rows
    return str(rows[0][0])


def assert_keys_unique(store: EventStore) -> None:
    """No primary key since migration 0012: the graph itself writes each identifier once."""
    twice = store.query(
        "SELECT (SELECT count(*) - count(DISTINCT (kind, value)) FROM identity_identifiers),"
        " (SELECT count(*) - count(DISTINCT anonymous_id) FROM identity_people)"
    ).rows
    assert twice == [(0, 0)]


def test_a_login_on_two_devices_is_one_person_after_ingest(store: EventStore) -> None:
    store.append([event(0, "phone"), event(1, "phone", "u1")])
    store.append([event(2, "laptop"), event(3, "laptop", "u1")])
    phone = person_id_for(("anonymous_id", "phone"))
    assert person(store, "phone") == person(store, "laptop") == phone
    got = tables(store)
    assert got["identity_merges"] == [
        (phone, person_id_for(("anonymous_id", "laptop")), "user_id", "u1", "e00003",
         T0 + timedelta(minutes=3)),
    ]  # fmt: skip
    assert {row[2] for row in got["identity_identifiers"]} == {phone}
    assert store.query(
        "SELECT identifiers, anonymous_ids, user_ids FROM identity_persons"
    ).rows == [(3, 2, 1)]


def test_one_undefined_user_id_cannot_gather_a_hundred_browsers(store: EventStore) -> None:
    store.append([event(n, f"b{n:03d}", "undefined") for n in range(50)])
    store.append([event(n, f"b{n:03d}", "undefined") for n in range(50, 100)])
    people = dict(store.query("SELECT anonymous_id, person_id FROM identity_people").rows)
    assert len(people) == 100
    undefined = store.query(
        "SELECT person_id FROM identity_identifiers WHERE kind = 'user_id'"
    ).rows[0][0]
    assert sum(p == undefined for p in people.values()) == 20  # max_person_anonymous_ids
    assert len(set(people.values())) == 81  # the 80 others stay apart
    refused = store.query(
        "SELECT DISTINCT via_kind, via_value, reason, size, cap FROM identity_refused"
    ).rows
    assert refused == [("user_id", "undefined", "max_person_anonymous_ids", 21, 20)]
    assert store.query("SELECT count(*) FROM identity_refused").rows == [(80,)]
    before = tables(store)
    store.rebuild_identity()
    assert tables(store) == before


def test_a_shared_computer_never_merges_two_accounts(store: EventStore) -> None:
    store.append([event(0, "kiosk", "ann"), event(1, "kiosk", "bob"), event(2, "home", "bob")])
    ann, bob = person_id_for(("anonymous_id", "kiosk")), person_id_for(("user_id", "bob"))
    owner = dict(store.query("SELECT value, person_id FROM identity_identifiers").rows)
    assert owner == {"kiosk": ann, "ann": ann, "bob": bob, "home": bob}
    assert store.query("SELECT reason, size, cap, event_id FROM identity_refused").rows == [
        ("max_person_user_ids", 2, 1, "e00001")
    ]


def test_the_policy_comes_from_the_settings(tmp_path: Path) -> None:
    env = {"CONVTRACK_IDENTITY_MAX_USER_IDS": "0", "CONVTRACK_IDENTITY_MAX_ANONYMOUS_IDS": "2"}
    policy = StitchPolicy.from_settings(load_settings(env=env))
    assert policy == StitchPolicy(max_person_anonymous_ids=2, max_per_kind={})
    s = opened(tmp_path / "policy.duckdb", policy)
    try:
        s.append([event(0, "kiosk", "ann"), event(1, "kiosk", "bob"), event(2, "x", "bob")])
        assert s.query("SELECT DISTINCT person_id FROM identity_identifiers").rows == [
            (person_id_for(("anonymous_id", "kiosk")),)
        ]
    finally:
        s.close()


def test_stitching_at_ingest_can_be_turned_off(tmp_path: Path) -> None:
    s = opened(tmp_path / "off.duckdb", at_ingest=False)
    try:
        s.append([event(0, "phone", "u1"), event(1, "laptop", "u1")])
        assert all(rows == [] for rows in tables(s).values())
        assert s.rebuild_identity()["persons"] == 1
        assert person(s, "phone") == person(s, "laptop")
    finally:
        s.close()


def test_a_duplicate_event_is_observed_once(store: EventStore) -> None:
    first = [event(0, "a", "u1"), event(1, "b"), event(2, "b", "u1")]
    assert store.append([*first, first[2]]) == 3  # once twice in the batch
    once = tables(store)
    assert len(once["identity_merges"]) == 1
    # the same ids again, even with other identifiers: not inserted, so not observed
    again = [event(n, "c", "u1", event_id=e.event_id) for n, e in enumerate(first)]
    assert store.append(again) == 0
    assert tables(store) == once


def test_a_rolled_back_append_leaves_graph_and_tables_in_step(store: EventStore) -> None:
    store.append([event(0, "phone", "u1")])
    before = tables(store)
    broken = Rejected(reject_id=None, received_at=T0, source="tag", payload="{}", reasons=[])  # type: ignore[arg-type]
    with pytest.raises(Exception, match="(?i)null"):  # NOT NULL: after the events were stitched
        store.append([event(1, "laptop", "u1"), event(2, "tablet", "u1")], [broken])
    assert tables(store) == before and store.count_events() == 1
    store.append([event(3, "laptop", "u1")])  # the graph did not keep the rolled-back events
    assert_keys_unique(store)
    after = tables(store)
    store.rebuild_identity()
    assert tables(store) == after
    assert person(store, "laptop") == person(store, "phone")


def test_the_graph_carries_on_after_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "reopen.duckdb"
    with opened(path) as s:
        s.append([event(0, "phone", "u1"), event(1, "laptop")])
    with opened(path) as s:
        s.append([event(2, "laptop", "u1"), event(3, "phone"), event(4, "tablet")])
        assert person(s, "laptop") == person(s, "phone")
        assert_keys_unique(s)
        stitched = tables(s)
        s.rebuild_identity()
        assert tables(s) == stitched


def test_a_replace_resets_the_kept_graph(store: EventStore) -> None:
    from convtrack.identity.rebuild import rebuild

    store.append([event(0, "phone", "u1")])
    rebuild(store, StitchPolicy(merge_kinds=frozenset({"anonymous_id"})))
    store.append([event(1, "laptop", "u1")])  # loaded again from the replaced tables
    stitched = tables(store)
    assert person(store, "laptop") == person(store, "phone")
    store.rebuild_identity()
    assert tables(store) == stitched


# -- incremental == rebuild, on random streams -------------------------------------------------

streams = st.lists(
    st.tuples(
        st.sampled_from([None, "a1", "a2", "a3", "a4", "a5"]),
        st.sampled_from([None, None, "u1", "u2", "undefined"]),
        st.sampled_from([None, None, "e1", "e2"]),
        st.integers(0, 30),  # minute: ties are ordered by event id, as a rebuild does
    ),
    max_size=40,
)
SMALL = StitchPolicy(
    max_person_identifiers=4, max_person_anonymous_ids=2, max_per_kind={"user_id": 1}
)
LOOSE = StitchPolicy(merge_kinds=frozenset({"anonymous_id", "user_id"}), max_per_kind={})


@settings(max_examples=25, deadline=None)
@given(streams, st.lists(st.integers(1, 8), min_size=1), st.sampled_from([SMALL, LOOSE]))
def test_stitching_at_ingest_equals_a_rebuild(stream, sizes, policy: StitchPolicy) -> None:
    events = sorted(
        (event(minute, anon, user, email, event_id=f"e{n:03d}")
         for n, (anon, user, email, minute) in enumerate(stream)),
        key=lambda e: (e.occurred_at, e.event_id),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, opened(Path(folder) / "p.duckdb", policy) as s:
        start = 0
        for size in sizes * (len(events) + 1):  # batches of random sizes, each re-sending one
            if start >= len(events):
                break
            s.append(events[start : start + size] + events[max(0, start - 1) : start])
            start += size
        assert_keys_unique(s)
        stitched = tables(s)
        s.rebuild_identity()
        assert tables(s) == stitched
