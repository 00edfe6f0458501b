"""Dashboard sessions and alerts in the store (migration 0016), on every engine: sessions are
found by the hash of their id only, expire and end at once; an alert is raised once however
many raisers race, closes when its condition clears and is raised again when it returns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from convtrack.store import EventStore
from convtrack.store.dashboard_model import AlertRecord, StoredSession, session_hash

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RAW_ID = "raw-session-id-that-only-the-cookie-holds"


def session(raw: str = RAW_ID, at: datetime = T0, hours: float = 12) -> StoredSession:
    return StoredSession(session_hash(raw), "a-csrf-token", at, at + timedelta(hours=hours), at)


def alert(key: str, at: datetime = T0) -> AlertRecord:
    return AlertRecord(key, "destination_paused", f"{key} is paused", {"destination": key}, at)


def test_a_session_is_created_found_and_deleted(store: EventStore) -> None:
    store.create_session(session())
    got = store.get_session(session_hash(RAW_ID), T0 + timedelta(minutes=1))
    assert got is not None and got.csrf == "a-csrf-token"
    assert got.expires_at == T0 + timedelta(hours=12)
    assert store.get_session(session_hash("another id"), T0) is None
    assert store.delete_session(session_hash(RAW_ID)) is True
    assert store.get_session(session_hash(RAW_ID), T0) is None
    assert store.delete_session(session_hash(RAW_ID)) is False


def test_an_expired_session_is_not_found_and_is_purged(store: EventStore) -> None:
    store.create_session(session("short", hours=1))
    store.create_session(session("long", hours=24))
    later = T0 + timedelta(hours=2)
    assert store.get_session(session_hash("short"), later) is None
    assert store.get_session(session_hash("long"), later) is not None
    assert store.purge_expired_sessions(later) == 1
    left = store.query("SELECT id_hash FROM dashboard_sessions").rows
    assert left == [(session_hash("long"),)]


def test_last_seen_is_written_only_now_and_then(store: EventStore) -> None:
    store.create_session(session())
    store.get_session(session_hash(RAW_ID), T0 + timedelta(minutes=1))  # too soon: no write
    seen = "SELECT last_seen FROM dashboard_sessions"
    assert store.query(seen).rows[0][0] == T0
    store.get_session(session_hash(RAW_ID), T0 + timedelta(minutes=6))
    assert store.query(seen).rows[0][0] == T0 + timedelta(minutes=6)


def test_only_the_hash_of_a_session_id_is_stored(store: EventStore) -> None:
    store.create_session(session())
    rows = store.query("SELECT * FROM dashboard_sessions").rows
    assert rows and all(RAW_ID not in str(value) for value in rows[0])
    assert rows[0][0] == session_hash(RAW_ID) != RAW_ID


def test_an_alert_is_raised_once_by_racing_raisers(
    open_migrated: Callable[[], EventStore], engine: str
) -> None:
    first = open_migrated()
    second = first if engine == "duckdb" else open_migrated()  # DuckDB: one writing process
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def raiser(store: EventStore) -> None:
        barrier.wait()
        results.append(store.raise_alert(alert("meta")))

    threads = [threading.Thread(target=raiser, args=(s,)) for s in (first, second) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert second.raise_alert(alert("meta", T0 + timedelta(minutes=5))) is False
    listed = first.list_alerts(10)
    assert [(a.key, a.condition, a.raised_at) for a in listed] == [("meta", "meta", T0)]
    assert listed[0].details == {"destination": "meta"}


def test_a_cleared_alert_closes_and_alerts_again_when_it_returns(store: EventStore) -> None:
    assert store.raise_alert(alert("meta")) and store.raise_alert(alert("ga4"))
    store.record_alert_delivery(["meta", "ga4"], "sent", 1, "")
    assert store.clear_alerts(["ga4"], T0 + timedelta(minutes=5)) == ["meta"]
    assert [a.condition for a in store.list_alerts(10, open_only=True)] == ["ga4"]
    assert store.raise_alert(alert("meta", T0 + timedelta(minutes=10))) is True  # it came back
    listed = store.list_alerts(10)
    assert [(a.condition, a.cleared_at) for a in listed] == [
        ("meta", None),
        ("ga4", None),
        ("meta", T0 + timedelta(minutes=5)),
    ]  # newest raised first, then by key ("meta~…" after "ga4")
    assert listed[0].webhook_status == "pending"
    closed = next(a for a in listed if a.cleared_at is not None)
    assert closed.key != "meta" and closed.webhook_status == "sent"
    assert closed.webhook_attempts == 1
    assert store.list_alerts(1)[0].raised_at == T0 + timedelta(minutes=10)


def test_closed_alerts_are_purged_after_their_time(store: EventStore) -> None:
    store.raise_alert(alert("meta"))
    store.raise_alert(alert("ga4"))
    store.clear_alerts(["ga4"], T0 + timedelta(minutes=5))
    assert store.purge_alerts(T0 + timedelta(minutes=4)) == 0
    assert store.purge_alerts(T0 + timedelta(days=30)) == 1
    assert [a.condition for a in store.list_alerts(10)] == ["ga4"]  # open: kept
