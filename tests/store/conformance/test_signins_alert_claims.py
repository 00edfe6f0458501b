"""Failed sign-ins and alert claims in the store (migration 0018), on every engine: attempts
from one address are counted once each however many nodes race, in windows that end and are
purged, under the address's hash only; a pending alert's webhook is claimed by one node, and
a claim older than the lease is taken over by exactly one of the racing nodes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from convtrack.store import EventStore
from convtrack.store.dashboard_model import AlertRecord, address_hash

T = TypeVar("T")
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
LEASE = timedelta(minutes=2)
IP = "198.51.100.7"


def two_nodes(open_migrated: Callable[[], EventStore], engine: str) -> tuple[EventStore, ...]:
    """Two stores as two collectors have them (DuckDB: one writing process, one store)."""
    first = open_migrated()
    return (first, first if engine == "duckdb" else open_migrated())


def race(stores: tuple[EventStore, ...], n: int, call: Callable[[EventStore], T]) -> list[T]:
    """``call(store)`` from ``n`` threads at once, spread over the stores."""
    barrier = threading.Barrier(n)
    results: list[T] = []

    def run(store: EventStore) -> None:
        barrier.wait()
        results.append(call(store))

    threads = [threading.Thread(target=run, args=(stores[i % len(stores)],)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def pending(key: str, claimed_at: datetime | None = T0) -> AlertRecord:
    return AlertRecord(key, "anomaly", f"{key} is off", {"n": 1}, T0, claimed_at=claimed_at)


def test_racing_attempts_from_two_nodes_each_count(
    open_migrated: Callable[[], EventStore], engine: str
) -> None:
    nodes = two_nodes(open_migrated, engine)
    got = race(nodes, 8, lambda s: s.note_signin_attempt(address_hash(IP), T0, WINDOW))
    assert sorted(n for _, n in got) == list(range(1, 9))  # none lost, none counted twice
    assert {first for first, _ in got} == {T0}
    later = nodes[1].note_signin_attempt(address_hash(IP), T0 + timedelta(minutes=5), WINDOW)
    assert later == (T0, 9)  # same window, whichever node


def test_a_window_ends_its_rows_are_purged_and_a_sign_in_clears_it(store: EventStore) -> None:
    other = address_hash("203.0.113.9")
    assert store.note_signin_attempt(address_hash(IP), T0, WINDOW) == (T0, 1)
    assert store.note_signin_attempt(other, T0 + timedelta(minutes=1), WINDOW)[1] == 1
    after = T0 + WINDOW + timedelta(seconds=30)  # IP's window ended, the other's not yet
    assert store.note_signin_attempt(address_hash(IP), after, WINDOW) == (after, 1)
    gone = T0 + timedelta(minutes=1) + WINDOW
    store.note_signin_attempt(address_hash(IP), gone, WINDOW)
    rows = store.query("SELECT ip_hash, attempts FROM signin_failures").rows
    assert rows == [(address_hash(IP), 2)]  # the other address's ended window was deleted
    store.clear_signin_attempts(address_hash(IP))
    assert store.query("SELECT count(*) FROM signin_failures").rows == [(0,)]
    assert store.note_signin_attempt(address_hash(IP), gone, WINDOW) == (gone, 1)


def test_only_the_hash_of_an_address_is_stored(store: EventStore) -> None:
    store.note_signin_attempt(address_hash(IP), T0, WINDOW)
    rows = store.query("SELECT * FROM signin_failures").rows
    assert rows and all(IP not in str(value) for value in rows[0])
    assert rows[0][0] == address_hash(IP) != IP


def test_a_lapsed_claim_is_taken_over_by_one_of_racing_nodes(
    open_migrated: Callable[[], EventStore], engine: str
) -> None:
    nodes = two_nodes(open_migrated, engine)
    raised = race(nodes, 4, lambda s: s.raise_alert(pending("meta")))
    assert sorted(raised) == [False, False, False, True]
    assert nodes[0].list_alerts(1)[0].claimed_at == T0  # the raiser holds the claim
    soon = T0 + LEASE - timedelta(seconds=1)
    assert race(nodes, 4, lambda s: s.claim_alerts(soon, LEASE)) == [[]] * 4
    lapsed = T0 + LEASE
    claims = race(nodes, 4, lambda s: s.claim_alerts(lapsed, LEASE))
    assert sorted(len(c) for c in claims) == [0, 0, 0, 1]
    taken = next(c for c in claims if c)[0]
    assert (taken.key, taken.claimed_at, taken.details) == ("meta", lapsed, {"n": 1})
    assert nodes[1].list_alerts(1)[0].claimed_at == lapsed


def test_only_pending_alerts_are_claimed_cleared_ones_too(store: EventStore) -> None:
    for key in ("sent", "failed", "off", "gone", "never"):
        claimed_at = None if key == "never" else T0  # never: raised before migration 0018
        status = {"off": "not_configured"}.get(key, "pending")
        assert store.raise_alert(
            AlertRecord(key, "anomaly", key, {}, T0, webhook_status=status, claimed_at=claimed_at)
        )
    store.record_alert_delivery(["sent"], "sent", 1, "", T0)
    store.record_alert_delivery(["failed"], "failed", 3, "HTTP 503", T0)
    store.clear_alerts(["sent", "failed", "off", "never"], T0)  # "gone" cleared, still pending
    taken = store.claim_alerts(T0 + LEASE, LEASE)
    assert sorted(a.condition for a in taken) == ["gone", "never"]
    assert next(a for a in taken if a.condition == "gone").key.startswith("gone~")


def test_an_outcome_is_recorded_only_under_its_claim(store: EventStore) -> None:
    store.raise_alert(pending("meta"))
    store.claim_alerts(T0 + LEASE, LEASE)  # taken over: the first claim lapsed
    store.record_alert_delivery(["meta"], "failed", 3, "late", T0)  # the old claimer
    assert store.list_alerts(1)[0].webhook_status == "pending"
    store.record_alert_delivery(["meta"], "sent", 1, "", T0 + LEASE)
    got = store.list_alerts(1)[0]
    assert (got.webhook_status, got.webhook_attempts) == ("sent", 1)
