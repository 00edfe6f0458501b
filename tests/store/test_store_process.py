"""The store in its own process: writes acknowledged after commit, calls, failures."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from convtrack.errors import ConvtrackError, StoreUnavailable
from convtrack.events import Campaign, Event, HashedIds, Rejected
from convtrack.keys import create_key
from convtrack.store import open_store
from convtrack.store.process import StoreProcess

OPTIONS = {"max_events": 10_000, "interval": 0.002, "queue_max_events": 10_000}


@pytest.fixture
def process(store_url: str) -> Iterator[StoreProcess]:
    proc = StoreProcess(store_url, OPTIONS, queue_max_events=10_000)
    proc.store.migrate()
    yield proc
    proc.stop()


def test_writes_are_acknowledged_once_committed_and_round_trip_every_field(
    process: StoreProcess, event: Callable[..., Event]
) -> None:
    rich = event(
        "rich",
        value=12.5,
        currency="EUR",
        properties={"items": [{"sku": "A", "qty": 2}]},
        campaign=Campaign(
            gclid="CjAbC", utm_source="google", click_at=datetime(2024, 5, 1, tzinfo=UTC)
        ),
        hashed=HashedIds(email_sha256="a" * 64),
    )
    reject = Rejected("r1", datetime.now(UTC), "tag", '{"x":1}', [{"path": "", "reason": "bad"}])

    async def main() -> None:
        await asyncio.gather(
            process.writer.write([rich]),
            *[process.writer.write([event(f"e{i}")]) for i in range(50)],
            process.writer.write([], [reject]),
        )

    asyncio.run(main())
    assert process.writer.pending == 0
    assert process.store.count_events() == 51
    assert process.store.count_quarantined() == 1
    row = process.store.query(
        "SELECT value, currency, gclid, utm_source, click_at, email_sha256, properties"
        " FROM events WHERE event_id = 'rich'"
    ).rows[0]
    assert row[:4] == (Decimal("12.500000"), "EUR", "CjAbC", "google")
    assert row[4] == datetime(2024, 5, 1, tzinfo=UTC)
    assert row[5] == "a" * 64 and row[6] == '{"items":[{"sku":"A","qty":2}]}'
    stats = process.writer.stats
    assert stats.commits >= 1 and stats.events_committed == 51


def test_fire_and_forget_submits_are_committed_by_stop(
    store_url: str, event: Callable[..., Event]
) -> None:
    proc = StoreProcess(store_url, OPTIONS, queue_max_events=10_000)
    proc.store.migrate()
    for i in range(200):
        proc.writer.submit([event(f"p{i}")])
    proc.stop()
    with open_store(store_url) as store:
        assert store.count_events() == 200


def test_calls_forward_errors_in_the_one_error_shape(process: StoreProcess) -> None:
    with pytest.raises(ConvtrackError) as info:
        process.store.query("DELETE FROM events")
    assert info.value.code == "read_only"
    record, _ = create_key(process.store, "web")
    assert [k.key_id for k in process.store.list_keys()] == [record.key_id]
    assert process.store.revoke_key("web") is not None
    assert process.store.key_hashes() == {}


def test_a_locked_store_fails_start_up_clearly(store_url: str) -> None:
    holder = StoreProcess(store_url, OPTIONS, queue_max_events=10_000)
    try:
        with pytest.raises(ConvtrackError) as info:
            StoreProcess(store_url, OPTIONS, queue_max_events=10_000)
        # In-process DuckDB shares the file; another process is refused with store_locked.
        assert info.value.code == "store_locked"
    finally:
        holder.stop()


def test_a_dead_store_process_fails_waiters_and_refuses_new_work(
    process: StoreProcess, event: Callable[..., Event]
) -> None:
    asyncio.run(process.writer.write([event("before")]))
    os.kill(process._process.pid or 0, signal.SIGKILL)
    process._process.join(60)  # generous bounds on noticing the death, not timing assertions
    process._stopped.wait(60)
    assert process.dead
    with pytest.raises(StoreUnavailable):
        asyncio.run(process.writer.write([event("after")]))
    with pytest.raises(StoreUnavailable):
        process.store.count_events()
    assert process.writer.pending == 0
