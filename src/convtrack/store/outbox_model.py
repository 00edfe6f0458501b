# ruff: noqa: S608  (SQL composed here is constant: column names and our adjustment types)
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


def empty_stats() -> dict[str, Any]:
    """One destination's ``outbox_stats`` entry before any figure is read (both engines)."""
    return {
        **dict.fromkeys(STATUSES, 0),
        "paused_at": None,
        "reason": None,
        "consecutive_failures": 0,
        "oldest_pending_at": None,
    }


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


#: The stored columns of an adjustment's original conversion (``ClaimedJob.original``): what a
#: delivery reads, plus the privacy stage's decision, so the original's consent is checked too.
ORIGINAL_COLUMNS: tuple[str, ...] = (*FORWARDED_COLUMNS, "consent_decision")
#: A job's ``platform_event`` reads ``<type>:<platform event>`` for an adjustment
#: (forward/adjustment.py); these are the types, as the store matches them in SQL.
ADJUSTMENT_TYPES: tuple[str, ...] = ("refund", "cancel", "restatement")


def adjustment_job_sql(alias: str, wildcard: str = "%") -> str:
    """SQL: the outbox row ``alias`` is an adjustment's job (``<type>:<platform event>``, as
    ``is_adjustment``); a conversion whose platform event is plainly ``refund`` is not.
    ``wildcard``: LIKE's ``%`` as the driver needs it (psycopg: ``%%``)."""
    likes = (f"{alias}.platform_event LIKE '{t}:{wildcard}'" for t in ADJUSTMENT_TYPES)
    return "(" + " OR ".join(likes) + ")"


def originals_where_order(wildcard: str = "%") -> str:
    """Both engines' SQL after ``FROM <wanted pairs> w``: per wanted (order id, conversion),
    the original is a stored event of that order that is no adjustment (it has no adjustment
    job), preferring one with a conversion job of that conversion, then the earliest. An
    original that consented to no destination has no job at all and is still found, so its
    consent can withhold what its refund would carry (forward/original.py)."""
    adjustment, conversion = (adjustment_job_sql(a, wildcard) for a in "ac")
    return (
        " JOIN events e ON e.order_id = w.order_id WHERE NOT EXISTS (SELECT 1 FROM outbox a"
        f" WHERE a.event_id = e.event_id AND {adjustment}) ORDER BY w.order_id, w.conversion,"
        " CASE WHEN EXISTS (SELECT 1 FROM outbox c WHERE c.event_id = e.event_id"
        f" AND c.conversion = w.conversion AND NOT {conversion}) THEN 0 ELSE 1 END,"
        " e.occurred_at, e.event_id"
    )


def job_id(event_id: str, destination: str) -> str:
    """One job per event and destination, ever: what makes a replay unable to send twice."""
    return f"{event_id}:{destination}"


@dataclass(slots=True)
class ClaimedJob:
    """A job leased to a worker, with the stored event it delivers (None: no longer stored):
    a dict of its :data:`FORWARDED_COLUMNS`, less those NULL in every event of the claim.

    An adjustment job (a refund, cancellation or restatement) also carries ``original``: the
    conversion it adjusts as a dict of its :data:`ORIGINAL_COLUMNS` (only those not NULL), or
    None when it is not stored. The original is the earliest (by ``occurred_at``, then
    ``event_id``) stored event with the adjustment's ``order_id`` that has a conversion job
    (not an adjustment job) of the same plan conversion, to any destination; the store looks
    the originals of a whole claim up in one query (:func:`originals_wanted`)."""

    job_id: str
    event_id: str
    destination: str
    conversion: str
    platform_event: str
    attempts: int  # including this one
    created_at: datetime
    event: dict[str, Any] | None
    original: dict[str, Any] | None = None


def is_adjustment(platform_event: str) -> bool:
    """Is this a job's platform event of an adjustment (``refund:purchase``, …)?"""
    head, sep, _ = platform_event.partition(":")
    return bool(sep) and head in ADJUSTMENT_TYPES


def originals_wanted(jobs: list[ClaimedJob]) -> set[tuple[str, str]]:
    """``(order id, plan conversion)`` of each adjustment job in a claim whose event is stored
    with an order id: the originals one query looks up."""
    return {
        (str(job.event["order_id"]), job.conversion)
        for job in jobs
        if job.event is not None
        and job.event.get("order_id") is not None
        and is_adjustment(job.platform_event)
    }


def attach_originals(jobs: list[ClaimedJob], found: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Give each adjustment job its original from ``found`` (keyed as :func:`originals_wanted`)."""
    for job in jobs:
        if job.event is not None and is_adjustment(job.platform_event):
            order = job.event.get("order_id")
            if order is not None:
                job.original = found.get((str(order), job.conversion))


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
