"""Delivery workers: one asyncio loop per destination, draining its outbox jobs.

Each loop claims due jobs with a lease (a crashed worker's jobs come back when the lease runs
out), turns their stored events into requests (``partition`` first: an event the platform
cannot take is a dead letter with the reason), sends them through one ``httpx.AsyncClient`` of
its own, and records every attempt. A slow or failing destination only ever waits on itself.

Nothing is sent twice by the outbox: a job is unique per event and destination and a delivered
job is never claimed again. A request whose answer is lost (timeout, crash) is retried with the
same ``event_id``, which every platform deduplicates on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import httpx

from convtrack.forward.destination import Destination, HttpRequest, Outcome
from convtrack.forward.enabled import Enabled
from convtrack.forward.model import ForwardEvent
from convtrack.forward.original import adjusted
from convtrack.forward.outcome import excerpt
from convtrack.forward.policy import FailureRun, WorkerOptions
from convtrack.forward.rows import forward_event
from convtrack.forward.transport import send
from convtrack.store.base import EventStore
from convtrack.store.outbox_model import Attempt, ClaimedJob

log = logging.getLogger("convtrack.forward")
Clock = Callable[[], datetime]
GONE = "the event is no longer stored (erased or past retention)"
#: rounds (claim → build → send → record) one destination's worker runs side by side; each
#: holds its own leased jobs, so they never send the same job
ROUNDS = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


class DestinationWorker:
    def __init__(
        self,
        store: EventStore,
        enabled: Enabled,
        options: WorkerOptions,
        client: httpx.AsyncClient,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.options = options
        self.client = client
        self.clock = clock
        self.failures = FailureRun()
        self._limit = asyncio.Semaphore(options.concurrency)

    @property
    def name(self) -> str:
        return self.enabled.name

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: :data:`ROUNDS` rounds side by side, so the store
        claims and records one batch while another is built and sent."""
        await asyncio.gather(*(self._rounds(stop) for _ in range(ROUNDS)))

    async def drain(self) -> None:
        """Deliver until no job is due (``convtrack forward --once``)."""

        async def rounds() -> None:
            while await self.step():
                pass

        await asyncio.gather(*(rounds() for _ in range(ROUNDS)))

    async def _rounds(self, stop: asyncio.Event) -> None:
        """One round after another; an unexpected error is logged, never fatal."""
        while not stop.is_set():
            try:
                busy = await self.step()
            except Exception:
                log.exception("forwarding to %s failed; trying again", self.name)
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.options.poll)

    async def step(self) -> bool:
        """Claim, deliver and record one batch of due jobs; False when none was due."""
        o = self.options
        jobs = await asyncio.to_thread(
            self.store.claim_jobs, self.name, o.claim_limit, o.lease, self.clock()
        )
        if not jobs:
            return False
        attempts = await self.deliver(jobs)
        await asyncio.to_thread(self.store.complete_jobs, self.name, attempts, self.failures.count)
        now = self.clock()
        if self.failures.sustained(o, now):
            reason = (
                f"{self.failures.count} failed requests in a row since "
                f"{self.failures.since:%Y-%m-%d %H:%M:%S} UTC; last: {attempts[-1].excerpt}"
            )
            await asyncio.to_thread(self.store.pause_destination, self.name, reason, now)
            log.warning("destination %s paused: %s (resume: convtrack destinations resume %s)",
                        self.name, reason, self.name)  # fmt: skip
            self.failures = FailureRun()
        return True

    async def deliver(self, jobs: Sequence[ClaimedJob]) -> list[Attempt]:
        now = self.clock()
        by_event = {job.event_id: job for job in jobs}
        attempts: list[Attempt] = []
        events: list[ForwardEvent] = []
        name = self.name
        destination, config = self.enabled.destination, self.enabled.config
        for job in jobs:
            if job.event is None:
                attempts.append(_dead(job, GONE))
                continue
            try:
                event = forward_event(job.event, name, job.platform_event)
                if event.kind == "adjustment":
                    if job.original is None and _waits(destination, event):
                        attempts.append(self._unmatched(job, event))
                        continue
                    event = adjusted(event, job.original, name, destination)
            except ValueError as exc:
                attempts.append(_dead(job, str(exc)))
                continue
            events.append(event)
        good, refused = destination.partition(events, config, now)
        attempts += [_dead(by_event[eid], reason) for eid, reason in refused.items()]
        # each request goes out as soon as it is built: the platform reads and answers one
        # while the next is built (partitioned above: not checked again)
        sent: list[tuple[HttpRequest, asyncio.Task[Outcome]]] = []
        try:
            for request in destination.iter_batches(good, config):
                sent.append((request, asyncio.ensure_future(self._send(request))))
                await asyncio.sleep(0)  # let it start
        except Exception:
            # building failed part-way (a bug): what was sent is still recorded, then the
            # round fails as before and the rest waits for its lease to run out
            done = await self._outcomes(sent, by_event)
            await asyncio.to_thread(self.store.complete_jobs, self.name, done, None)
            raise
        return attempts + await self._outcomes(sent, by_event)

    async def _outcomes(
        self,
        sent: list[tuple[HttpRequest, asyncio.Task[Outcome]]],
        by_event: dict[str, ClaimedJob],
    ) -> list[Attempt]:
        attempts: list[Attempt] = []
        for request, task in sent:
            outcome = await task
            self.failures.note(outcome.status == "retry", self.clock())
            jobs = [by_event[eid] for eid in request.event_ids]
            if outcome.delivered and not outcome.rejected:  # the common case, ~1000 at a time
                done = (outcome.http_status, _ms(outcome.latency), outcome.message)
                attempts += [
                    Attempt(j.job_id, j.event_id, "delivered", j.attempts, None, *done)
                    for j in jobs
                ]
            else:
                attempts += [self._attempt(job, outcome) for job in jobs]
        return attempts

    async def _send(self, request: HttpRequest) -> Outcome:
        async with self._limit:
            return await send(request, self.client, self.enabled.destination)

    def _unmatched(self, job: ClaimedJob, event: ForwardEvent) -> Attempt:
        """An adjustment whose original is not stored (yet), for a platform that cannot match
        it without: it may still arrive, so wait as a retry; a dead letter after
        ``forward_max_attempts``. No request is sent: the failure run is not touched."""
        reason = (
            f"the original conversion of order {event.adjusted_order_id} is not stored (yet);"
            f" {self.name} cannot match the {event.adjustment_type} without it"
        )
        retry = self.options.retry
        if retry.gives_up(job.attempts):
            return _dead(job, f"gave up after {job.attempts} attempts: {reason}")
        when = self.clock() + timedelta(seconds=retry.delay(job.attempts))
        return Attempt(job.job_id, job.event_id, "retry", job.attempts, when, None, None,
                       excerpt(reason))  # fmt: skip

    def _attempt(self, job: ClaimedJob, outcome: Outcome) -> Attempt:
        status, latency = outcome.http_status, _ms(outcome.latency)
        if outcome.delivered:
            rejected = outcome.rejected.get(job.event_id)
            if rejected is not None:
                return _dead(job, excerpt(rejected), status, latency)
            return Attempt(
                job.job_id,
                job.event_id,
                "delivered",
                job.attempts,
                http_status=status,
                latency_ms=latency,
                excerpt=outcome.message,
            )
        if outcome.status == "dead":
            return _dead(job, outcome.message, status, latency)
        retry = self.options.retry
        if retry.gives_up(job.attempts):
            text = f"gave up after {job.attempts} attempts: {outcome.message}"
            return _dead(job, excerpt(text), status, latency)
        wait = retry.delay(job.attempts, outcome.retry_after)
        when = self.clock() + timedelta(seconds=wait)
        return Attempt(job.job_id, job.event_id, "retry", job.attempts, when, status, latency,
                       outcome.message)  # fmt: skip


def _waits(destination: Destination, event: ForwardEvent) -> bool:
    """Does this adjustment wait for its original (not stored yet) at this destination?"""
    return destination.needs_original and event.adjustment_type in destination.adjustment_types


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _dead(
    job: ClaimedJob, reason: str, status: int | None = None, latency: float | None = None
) -> Attempt:
    return Attempt(job.job_id, job.event_id, "dead", job.attempts, None, status, latency,
                   excerpt(reason))  # fmt: skip


class Forwarder:
    """The workers of every enabled destination, started and stopped together."""

    def __init__(
        self, store: EventStore, enabled: dict[str, Enabled], options: WorkerOptions
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.options = options
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start one task per destination on the running loop."""
        self._stop.clear()
        for enabled in self.enabled.values():
            self._tasks.append(asyncio.ensure_future(self._run(enabled)))
        if self.enabled:
            log.info("forwarding to %s", ", ".join(self.enabled))

    def _client(self) -> httpx.AsyncClient:
        """One client (connection pool) per destination: no destination waits on another's."""
        limits = httpx.Limits(max_connections=self.options.concurrency * 2)
        timeout = httpx.Timeout(self.options.timeout, connect=min(5.0, self.options.timeout))
        return httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False)

    async def _run(self, enabled: Enabled) -> None:
        async with self._client() as client:
            worker = DestinationWorker(self.store, enabled, self.options, client)
            await worker.run(self._stop)

    async def drain(self) -> None:
        """Deliver every job that is due, destinations side by side, then return (retries
        scheduled for later stay pending): ``convtrack forward --once``."""

        async def one(enabled: Enabled) -> None:
            async with self._client() as client:
                await DestinationWorker(self.store, enabled, self.options, client).drain()

        await asyncio.gather(*(one(e) for e in self.enabled.values()))

    async def stop(self) -> None:
        """Let each worker finish the batch it is on (its jobs are recorded), then end."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
