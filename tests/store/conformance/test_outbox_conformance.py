"""The outbox on every engine: claims, completion and the operator's view agree. (The full
outbox behaviour is tests/store/test_outbox_store.py; it passes on PostgreSQL too.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from convtrack.events import Event
from convtrack.store import EventStore
from convtrack.store.outbox_model import Attempt

Make = Callable[..., Event]
JOBS = [("meta", "purchase", "Purchase"), ("webhook", "purchase", "purchase")]


@pytest.fixture
def now() -> datetime:
    """A minute ahead of the clock: jobs are due from when ``append`` wrote them."""
    return datetime.now(UTC) + timedelta(minutes=1)


def test_claim_complete_and_the_operator_view(
    store: EventStore, event: Make, now: datetime
) -> None:
    store.append([event("e1", deliveries=JOBS, value=5.0, currency="EUR"), event("plain")])
    [job] = store.claim_jobs("meta", 10, 30, now)
    assert (job.job_id, job.event_id, job.platform_event, job.attempts) == (
        "e1:meta", "e1", "Purchase", 1,
    )  # fmt: skip
    assert job.event is not None and job.event["event_id"] == "e1"
    assert float(job.event["value"]) == 5.0 and "pii_raw" not in job.event
    assert store.claim_jobs("meta", 10, 30, now) == []  # leased
    store.complete_jobs("meta", [Attempt("e1:meta", "e1", "delivered", 1, None, 200, 12.5)], 0)
    stats = store.outbox_stats()
    assert (stats["meta"]["delivered"], stats["webhook"]["pending"]) == (1, 1)
    shown = store.show_jobs("e1")
    assert [j["status"] for j in shown["jobs"]] == ["delivered", "pending"]
    assert [(r["outcome"], r["http_status"]) for r in shown["log"]] == [("delivered", 200)]


def test_concurrent_claims_share_out_the_jobs(
    open_migrated: Callable[[], EventStore], event: Make, engine: str, now: datetime
) -> None:
    # Several workers claiming one destination at once never get the same job (on PostgreSQL
    # each in its own store, as in several collectors: FOR UPDATE SKIP LOCKED).
    first = open_migrated()
    first.append([event(f"e{i:03d}", deliveries=JOBS[:1]) for i in range(200)])
    stores = [first] * 4 if engine == "duckdb" else [first, *(open_migrated() for _ in range(3))]
    claimed: list[list[str]] = [[] for _ in stores]

    def work(store: EventStore, mine: list[str]) -> None:
        while jobs := store.claim_jobs("meta", 7, 60, now):
            mine.extend(j.job_id for j in jobs)

    threads = [
        threading.Thread(target=work, args=pair) for pair in zip(stores, claimed, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [job for mine in claimed for job in mine]
    assert len(every) == len(set(every)) == 200


@pytest.mark.parametrize("later", [29, 31])
def test_a_lease_runs_out(store: EventStore, event: Make, later: int, now: datetime) -> None:
    store.append([event("e1", deliveries=JOBS[:1])])
    store.claim_jobs("meta", 10, 30, now)
    again = store.claim_jobs("meta", 10, 30, now + timedelta(seconds=later))
    assert [j.attempts for j in again] == ([] if later < 30 else [2])
