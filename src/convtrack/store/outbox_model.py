"""What the outbox stores and hands out: claimed jobs and the result of an attempt.

Plain dataclasses, so they travel between the store process and the server unchanged. Not
frozen (nothing changes them once made): a frozen dataclass's ``__init__`` cost ~1 µs more
an instance, and the outbox makes two of these per event it delivers.
See migration 0011_outbox and docs/destinations.md ("Operating the outbox").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from convtrack.events import CLICK_IDS

JobStatus = Literal["pending", "inflight", "delivered", "dead"]
STATUSES: tuple[str, ...] = ("pending", "inflight", "delivered", "dead")
#: what an attempt came to (a delivery_log row's outcome)
AttemptOutcome = Literal["delivered", "retry", "dead"]
# One delivery job as the transient ``Event.deliveries`` names it:
# (destination, conversion, platform event).
DeliveryJob = tuple[str, str, str]


#: The stored ``events`` columns a delivery reads (forward/rows.py maps them to what a platform
#: gets; tests/forward/test_claimed_columns.py keeps the two in step). A claim loads only these,
#: never the raw personal data column: loading every column cost ~2 µs an event more in DuckDB and
#: ~1 µs in Python, for columns no destination reads.
FORWARDED_COLUMNS: tuple[str, ...] = (
    "event_id", "occurred_at", "source", "page_url", "referrer", "ip", "user_agent",
    *CLICK_IDS, "fbc", "fbp", "anonymous_id", "user_id", "email_sha256", "phone_sha256",
    "external_id_sha256", "pii_hashed", "consent", "value", "currency", "order_id", "properties",
)  # fmt: skip


def job_id(event_id: str, destination: str) -> str:
    """One job per event and destination, ever: what makes a replay unable to send twice."""
    return f"{event_id}:{destination}"


@dataclass(slots=True)
class ClaimedJob:
    """A job leased to a worker, with the stored event it delivers (None: no longer stored):
    a dict of its :data:`FORWARDED_COLUMNS`, less those NULL in every event of the claim."""

    job_id: str
    event_id: str
    destination: str
    conversion: str
    platform_event: str
    attempts: int  # including this one
    created_at: datetime
    event: dict[str, Any] | None


@dataclass(slots=True)
class Attempt:
    """What one attempt at one job came to; ``next_attempt_at`` is set for a retry."""

    job_id: str
    event_id: str
    outcome: AttemptOutcome
    attempt: int
    next_attempt_at: datetime | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    excerpt: str = ""
