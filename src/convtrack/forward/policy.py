"""Retry and pause policy as data (docs/destinations.md, "Operating the outbox").

A retry waits ``min(max, base * 2**(attempt - 1))`` scaled by a random factor in [0, 1)
("full jitter": retries of many jobs spread out instead of arriving together), and never less
than the platform's ``Retry-After``. After ``max_attempts`` attempts a job is a dead letter.
A destination whose requests have all failed (network, 5xx, 429) ``pause_after_failures``
times in a row for at least ``pause_after`` is paused until ``convtrack destinations resume``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from convtrack.config import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 5.0
    max: float = 3600.0
    max_attempts: int = 20
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt, after ``attempt`` attempts failed."""
        ceiling = min(self.max, self.base * 2 ** max(0, attempt - 1))
        wait = ceiling * self.random()
        return max(wait, retry_after) if retry_after is not None else wait

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


@dataclass(frozen=True)
class WorkerOptions:
    """How each destination's worker claims, sends and backs off."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    claim_limit: int = 1000
    concurrency: int = 4
    poll: float = 0.5
    lease: float = 120.0
    timeout: float = 10.0
    pause_after_failures: int = 50
    pause_after: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, s: Settings) -> WorkerOptions:
        return cls(
            retry=RetryPolicy(
                s.forward_retry_base_seconds,
                s.forward_retry_max_seconds,
                s.forward_max_attempts,
            ),
            claim_limit=s.forward_claim_limit,
            concurrency=s.forward_concurrency,
            poll=s.forward_poll_ms / 1000,
            lease=float(s.forward_lease_seconds),
            timeout=s.forward_timeout_seconds,
            pause_after_failures=s.forward_pause_after_failures,
            pause_after=timedelta(minutes=s.forward_pause_after_minutes),
        )


@dataclass
class FailureRun:
    """Consecutive failed requests of one destination, and since when."""

    count: int = 0
    since: datetime | None = None

    def note(self, failed: bool, now: datetime) -> None:
        if failed:
            self.count += 1
            self.since = self.since or now
        else:
            self.count, self.since = 0, None

    def sustained(self, options: WorkerOptions, now: datetime) -> bool:
        if options.pause_after_failures <= 0 or self.since is None:
            return False
        long_enough = now - self.since >= options.pause_after
        return self.count >= options.pause_after_failures and long_enough
