"""Group commit: many concurrent requests share one transaction.

Request handlers ``submit`` their events and await the returned future; one writer thread
drains the queue, appends everything waiting (up to ``max_events``, or whatever arrived within
``interval``) in one transaction, and resolves every future only after the commit. So a 2xx
always means durably committed, and throughput scales with concurrency instead of fsyncs.
The queue is bounded in events: past it ``submit`` raises ``StoreBusy`` (the caller answers
503 + Retry-After) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from convtrack.errors import StoreBusy, StoreUnavailable
from convtrack.events import Event, Rejected
from convtrack.store.base import EventStore

log = logging.getLogger("convtrack.store")


class Writer(Protocol):
    """What request handlers need of a writer (``GroupCommitWriter`` or its remote twin)."""

    @property
    def pending(self) -> int: ...
    @property
    def queue_max_events(self) -> int: ...
    @property
    def stats(self) -> WriterStats: ...
    @property
    def healthy(self) -> bool: ...
    def submit(
        self,
        events: Sequence[Event],
        rejected: Sequence[Rejected] = (),
        done: Callable[[BaseException | None], None] | None = None,
    ) -> None: ...
    async def write(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None: ...
    def stop(self) -> None: ...


Done = Callable[[BaseException | None], None]


@dataclass
class _Job:
    events: Sequence[Event]
    rejected: Sequence[Rejected]
    done: Callable[[BaseException | None], None] | None


@dataclass
class WriterStats:
    commits: int = 0
    events_committed: int = 0
    events_new: int = 0
    rejected: int = 0
    failures: int = 0
    last_error: str | None = None
    last_commit_ms: float = 0.0
    by_source: dict[str, int] = field(default_factory=dict)


class GroupCommitWriter:
    def __init__(
        self,
        store: EventStore,
        *,
        max_events: int = 10_000,
        interval: float = 0.002,
        queue_max_events: int = 200_000,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.after_commit = after_commit  # called once per commit, after every done()
        self.max_events = max_events
        self.interval = interval
        self.queue_max_events = queue_max_events
        self.stats = WriterStats()
        self._jobs: deque[_Job] = deque()
        self._pending = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._idle = False
        self._thread = threading.Thread(target=self._run, name="convtrack-writer", daemon=True)

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def healthy(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def submit(
        self,
        events: Sequence[Event],
        rejected: Sequence[Rejected] = (),
        done: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        """Queue events; ``done(error)`` is called from the writer thread after the commit."""
        size = len(events) + len(rejected)
        with self._cond:
            if self._stopping:
                raise StoreBusy(retry_after=5)
            if self._pending + size > self.queue_max_events:
                raise StoreBusy(retry_after=1)
            self._jobs.append(_Job(events, rejected, done))
            self._pending += size
            # Wake the writer only when it sleeps for lack of work or a commit is full:
            # a wake-up per request would hand the GIL back and forth for nothing.
            if self._idle or self._pending >= self.max_events:
                self._cond.notify()

    async def write(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None:
        """Queue events and wait until they are committed (or the commit failed)."""
        await submit_and_wait(self.submit, events, rejected)

    def stop(self, timeout: float = 30.0) -> None:
        """Commit everything already queued, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- writer thread ----------------------------------------------------------------
    def _take(self) -> list[_Job] | None:
        with self._cond:
            self._idle = True
            while not self._jobs and not self._stopping:
                self._cond.wait()
            self._idle = False
            if not self._jobs:
                return None
            # Let concurrent requests join this commit, up to the interval or max_events.
            if self._pending < self.max_events and not self._stopping:
                self._cond.wait(self.interval)
            jobs: list[_Job] = []
            count = 0
            while self._jobs and (count < self.max_events or not jobs):
                job = self._jobs.popleft()
                jobs.append(job)
                count += len(job.events) + len(job.rejected)
            return jobs

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        error = self._append(jobs)
        if error is not None and len(jobs) > 1:
            # One bad event must not fail everyone sharing its commit: retry each job alone.
            outcomes = [(job, self._append([job])) for job in jobs]
        else:
            outcomes = [(job, error) for job in jobs]
        with self._cond:
            self._pending -= sum(len(job.events) + len(job.rejected) for job in jobs)
        for job, outcome in outcomes:
            if job.done is None:
                continue
            try:
                job.done(outcome)
            except Exception:  # e.g. the requester's event loop is gone; keep writing
                log.exception("could not deliver a commit result")
        if self.after_commit is not None:
            try:
                self.after_commit()
            except Exception:
                log.exception("after-commit hook failed")

    def _append(self, jobs: list[_Job]) -> BaseException | None:
        """Append the jobs' events in one transaction; return the error, if any."""
        events = [e for job in jobs for e in job.events]  # the store drops repeated ids
        rejected = [r for job in jobs for r in job.rejected]
        started = time.perf_counter()
        try:
            new = self.store.append(events, rejected)
        except Exception as exc:  # the store failed: nobody in this commit is acknowledged
            self.stats.failures += 1
            self.stats.last_error = type(exc).__name__
            log.exception("commit of %d events failed", len(events))
            return exc
        s = self.stats
        s.commits += 1
        s.events_committed += len(events)
        s.events_new += new
        s.rejected += len(rejected)
        s.last_commit_ms = (time.perf_counter() - started) * 1000
        for e in events:
            s.by_source[e.source] = s.by_source.get(e.source, 0) + 1
        return None


async def submit_and_wait(
    submit: Callable[[Sequence[Event], Sequence[Rejected], Done], None],
    events: Sequence[Event],
    rejected: Sequence[Rejected],
) -> None:
    """``submit`` with a callback that resolves a future on this loop; wait for it.

    Any failure of the commit is answered as ``StoreUnavailable`` (503, nothing stored)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def done(error: BaseException | None) -> None:
        loop.call_soon_threadsafe(_resolve, future, error)

    submit(events, rejected, done)
    try:
        await future
    except StoreUnavailable:
        raise
    except Exception as exc:
        raise StoreUnavailable() from exc


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
