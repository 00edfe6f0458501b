"""GroupCommitWriter: concurrent requests share commits; a failure acknowledges nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from convtrack.errors import ConvtrackError, StoreBusy
from convtrack.events import Event, Rejected
from convtrack.store import EventStore
from convtrack.store.writer import GroupCommitWriter

Make = Callable[..., Event]
LONG = 3600.0  # an interval no test waits for: commits must be triggered by size or stop()


@pytest.fixture
def writers(store: EventStore) -> Iterator[Callable[..., GroupCommitWriter]]:
    made: list[GroupCommitWriter] = []

    def make(*, start: bool = True, **options: Any) -> GroupCommitWriter:
        writer = GroupCommitWriter(store, **({"interval": LONG} | options))
        made.append(writer)
        if start:
            writer.start()
        return writer

    yield make
    for writer in made:
        writer.stop()


class Done:
    """Collects ``done(error)`` callbacks from the writer thread."""

    def __init__(self) -> None:
        self.errors: list[BaseException | None] = []
        self._lock = threading.Lock()

    def __call__(self, error: BaseException | None) -> None:
        with self._lock:
            self.errors.append(error)


def test_concurrent_writers_share_commits(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    n = 40
    writer = writers(max_events=n)

    async def main() -> None:
        await asyncio.gather(*(writer.write([event(f"e{i}")]) for i in range(n)))

    asyncio.run(main())
    assert writer.stats.commits < n
    assert writer.stats.events_committed == n and writer.stats.events_new == n
    assert store.count_events() == n
    assert writer.pending == 0


def test_a_write_returns_only_after_its_commit(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(max_events=1)

    async def main() -> int:
        await writer.write([event("a")], [rejected("r")])
        return store.count_events() + store.count_quarantined()

    assert asyncio.run(main()) == 2


def test_duplicates_across_requests_in_one_commit(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(max_events=3)

    async def main() -> None:
        await asyncio.gather(
            writer.write([event("same", user_id="first")]),
            writer.write([event("same", user_id="second")]),
            writer.write([event("other")]),
        )

    asyncio.run(main())
    assert writer.stats.events_new == 2 and store.count_events() == 2
    assert store.query("SELECT user_id FROM events WHERE event_id = 'same'").rows == [("first",)]


def test_stats_by_source_and_rejects(
    writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(start=False)
    writer.submit([event("a", source="tag"), event("b", source="pixel")], [rejected("r1")])
    writer.submit([event("c", source="tag")])
    writer.start()
    writer.stop()
    assert writer.stats.by_source == {"tag": 2, "pixel": 1}
    assert writer.stats.rejected == 1 and writer.stats.events_new == 3


def test_one_bad_event_fails_only_its_own_request(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    n = 10
    writer = writers(max_events=n + 1)

    async def main() -> list[Any]:
        good = [writer.write([event(f"good{i}")]) for i in range(n)]
        poison = writer.write([event("poison", value=1e15)])  # beyond DECIMAL(18, 6)
        return await asyncio.gather(*good, poison, return_exceptions=True)

    results = asyncio.run(main())
    assert results[:n] == [None] * n  # the shared commit failed; each was retried alone
    poisoned = results[n]
    assert isinstance(poisoned, ConvtrackError), poisoned
    assert poisoned.status == 503 and "retry-after" in poisoned.headers
    assert poisoned.__cause__ is not None  # the store's own error, for the log
    assert writer.stats.failures == 2  # the group, then the poison alone
    assert store.count_events() == n
    assert writer.pending == 0


def test_a_failing_store_acknowledges_nothing(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(max_events=3)

    async def main() -> list[Any]:
        bad = [writer.write([event(f"bad{i}", value=1e15)]) for i in range(3)]
        return await asyncio.gather(*bad, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, ConvtrackError) and r.status == 503 for r in results), results
    assert writer.stats.commits == 0 and writer.stats.events_committed == 0
    assert store.count_events() == 0
    assert writer.pending == 0


def test_the_writer_keeps_working_after_a_failed_commit(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(max_events=1)

    async def main() -> None:
        with pytest.raises(ConvtrackError):
            await writer.write([event("poison", value=1e15)])
        await writer.write([event("fine")])

    asyncio.run(main())
    assert writer.stats.commits == 1 and store.count_events() == 1


def test_a_full_queue_refuses_with_retry_after(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(start=False, queue_max_events=5)
    writer.submit([event("a"), event("b")], [rejected("r")])
    with pytest.raises(StoreBusy) as info:
        writer.submit([event("c"), event("d"), event("e")])
    assert info.value.code == "overloaded" and info.value.status == 503
    assert info.value.headers == {"retry-after": "1"}
    assert writer.pending == 3
    writer.submit([event("c"), event("d")])  # exactly at the bound is fine
    assert writer.pending == 5

    async def refused() -> None:
        with pytest.raises(StoreBusy):
            await writer.write([event("f")])

    asyncio.run(refused())
    writer.start()
    writer.stop()
    assert store.count_events() == 4 and store.count_quarantined() == 1
    assert writer.pending == 0


def test_stop_commits_what_is_queued(
    store: EventStore, writers: Callable[..., GroupCommitWriter], event: Make
) -> None:
    writer = writers(start=False, max_events=1_000_000)
    done = Done()
    for i in range(25):
        writer.submit([event(f"e{i}")], done=done)
    writer.start()
    writer.stop()  # the interval is an hour: only stop() can have made this commit
    assert done.errors == [None] * 25
    assert store.count_events() == 25


def test_no_submits_after_stop(writers: Callable[..., GroupCommitWriter], event: Make) -> None:
    writer = writers()
    writer.stop()
    with pytest.raises(StoreBusy) as info:
        writer.submit([event("late")])
    assert info.value.headers == {"retry-after": "5"}


def rejected(reject_id: str) -> Rejected:
    return Rejected(reject_id, datetime(2024, 5, 1, tzinfo=UTC), "tag", "{}", [{"path": ""}])
