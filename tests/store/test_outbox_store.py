"""The forwarding outbox in the store: jobs written with their events, leases, dead letters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from convtrack.events import Event, Rejected
from convtrack.store import EventStore
from convtrack.store.outbox_model import Attempt
from convtrack.store.process import StoreProcess

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
JOBS = [("meta", "purchase", "Purchase"), ("webhook", "purchase", "purchase")]


def conversion(event: Callable[..., Event], event_id: str, jobs: list = JOBS) -> Event:
    return event(event_id, deliveries=list(jobs))


def statuses(store: EventStore) -> dict[str, str]:
    return {j["job_id"]: j["status"] for j in store.list_jobs(None, None, 1000)}


def test_jobs_are_written_with_their_events_and_never_for_a_duplicate(
    store: EventStore, event: Callable[..., Event]
) -> None:
    assert store.append([conversion(event, "e1"), event("plain")]) == 2
    assert statuses(store) == {"e1:meta": "pending", "e1:webhook": "pending"}

    # the same event again, alone and inside a batch (and twice in one batch): no new job
    again = conversion(event, "e1", [("tiktok", "purchase", "CompletePayment")])
    assert store.append([again]) == 0
    assert store.append([again, conversion(event, "e2"), conversion(event, "e2")]) == 1
    assert sorted(statuses(store)) == ["e1:meta", "e1:webhook", "e2:meta", "e2:webhook"]


def test_a_failed_append_leaves_no_job(store: EventStore, event: Callable[..., Event]) -> None:
    bad = Rejected("r1", T0, "server", "{}", [{"path": "/", "reason": "x"}])
    # a reject whose reasons cannot be stored as JSON aborts the transaction
    broken = Rejected("r2", T0, "server", "{}", [{"path": object()}])  # type: ignore[dict-item]
    with pytest.raises(Exception):  # noqa: B017,PT011  (msgspec refuses to encode it)
        store.append([conversion(event, "e1")], [bad, broken])
    assert store.count_events() == 0
    assert statuses(store) == {}


def test_claim_leases_and_a_lapsed_lease_is_reclaimed(
    store: EventStore, event: Callable[..., Event]
) -> None:
    store.append([conversion(event, "e1"), conversion(event, "e2")])
    now = datetime.now(UTC)
    claimed = store.claim_jobs("meta", 10, 30, now)
    assert [j.job_id for j in claimed] == ["e1:meta", "e2:meta"]
    assert all(j.event is not None and j.event["event_id"] == j.event_id for j in claimed)
    assert all(j.attempts == 1 for j in claimed)
    assert store.claim_jobs("meta", 10, 30, now) == []  # leased: nobody else gets them
    assert [j.job_id for j in store.claim_jobs("webhook", 1, 30, now)] == ["e1:webhook"]

    # the worker died: after the lease, the jobs come back (the attempt counted)
    later = store.claim_jobs("meta", 10, 30, now + timedelta(seconds=31))
    assert [(j.job_id, j.attempts) for j in later] == [("e1:meta", 2), ("e2:meta", 2)]


def test_complete_retry_dead_replay_and_the_delivery_log(
    store: EventStore, event: Callable[..., Event]
) -> None:
    store.append([conversion(event, "e1"), conversion(event, "e2"), conversion(event, "e3")])
    now = datetime.now(UTC)
    store.claim_jobs("meta", 10, 30, now)
    store.complete_jobs(
        "meta",
        [
            Attempt("e1:meta", "e1", "delivered", 1, http_status=200, latency_ms=3.0),
            Attempt("e2:meta", "e2", "retry", 1, now + timedelta(minutes=5), 503, 2.0, "down"),
            Attempt("e3:meta", "e3", "dead", 1, None, 400, 1.0, "Invalid parameter"),
        ],
        failures=1,
    )
    assert {k: v for k, v in statuses(store).items() if k.endswith(":meta")} == {
        "e1:meta": "delivered",
        "e2:meta": "pending",
        "e3:meta": "dead",
    }
    assert store.claim_jobs("meta", 10, 30, now) == []  # the retry is not due yet
    assert store.retry_jobs("e2:meta", None, now) == 1
    assert [j.job_id for j in store.claim_jobs("meta", 10, 30, now)] == ["e2:meta"]

    shown = store.show_jobs("e3")
    assert {j["job_id"] for j in shown["jobs"]} == {"e3:meta", "e3:webhook"}
    assert [(r["outcome"], r["http_status"], r["excerpt"]) for r in shown["log"]] == [
        ("dead", 400, "Invalid parameter")
    ]
    assert store.outbox_stats()["meta"]["consecutive_failures"] == 1

    # replay: the dead letter only; the delivered job is never sent again
    assert store.replay_jobs(None, "meta", now) == 1
    again = store.claim_jobs("meta", 10, 30, now)
    assert [(j.job_id, j.attempts) for j in again] == [("e3:meta", 1)]
    store.complete_jobs("meta", [Attempt("e1:meta", "e1", "dead", 9, excerpt="late")])
    assert statuses(store)["e1:meta"] == "delivered"  # a late answer cannot undo a delivery


def test_a_paused_destination_hands_out_nothing_until_resumed(
    store: EventStore, event: Callable[..., Event]
) -> None:
    store.append([conversion(event, "e1")])
    now = datetime.now(UTC)
    store.pause_destination("meta", "50 failed requests", now)
    assert store.claim_jobs("meta", 10, 30, now) == []
    assert store.outbox_stats()["meta"]["reason"] == "50 failed requests"
    assert store.resume_destination("meta", now) == 1
    assert [j.job_id for j in store.claim_jobs("meta", 10, 30, now)] == ["e1:meta"]


def test_the_remote_store_passes_the_outbox_through(
    store_url: str, event: Callable[..., Event]
) -> None:
    process = StoreProcess(store_url, {}, 1000)
    try:
        store = process.store
        store.migrate()
        committed = threading.Event()
        # through the group-commit writer: the jobs travel with the events (msgpack)
        process.writer.submit([conversion(event, "e1")], (), lambda error: committed.set())
        assert committed.wait(60)
        claimed = store.claim_jobs("meta", 10, 30, datetime.now(UTC))
        assert [j.job_id for j in claimed] == ["e1:meta"]
        store.complete_jobs("meta", [Attempt("e1:meta", "e1", "delivered", 1)], 0)
        assert store.show_jobs("e1:meta")["jobs"][0]["status"] == "delivered"
        assert store.outbox_stats()["meta"]["delivered"] == 1
    finally:
        process.stop()


def test_a_replayed_quarantined_conversion_gets_its_jobs_once(
    store: EventStore, event: Callable[..., Event]
) -> None:
    store.append([], [Rejected("r1", T0, "server", "{}", [{"path": "/", "reason": "x"}])])
    assert store.replay_quarantined([("r1", conversion(event, "e9"))]) == {"r1": "new"}
    assert sorted(statuses(store)) == ["e9:meta", "e9:webhook"]
    assert store.replay_quarantined([("r1", conversion(event, "e9"))]) == {"r1": "skipped"}
    assert len(statuses(store)) == 2
