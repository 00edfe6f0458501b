"""The JSON answers of the operator API (``/v1/admin/*``) that ``/openapi.json`` describes.

As in web/openapi_answers.py: the code's own types where it has them (``Link``, replay's
``Outcome``, the outbox's ``JobStatus`` and ``AttemptOutcome``), Structs mirroring the
handlers' dicts elsewhere, each checked against real answers
(tests/web/test_openapi_answers.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from convtrack.collect.replay import Outcome
from convtrack.store.links_model import Link
from convtrack.store.outbox_model import AttemptOutcome, JobStatus
from convtrack.web.openapi_answers import Detail, ReasonCount

StoredRow = Annotated[dict[str, Any], Meta(description="A row of the table, by column name")]


# --- status, keys, plan, SQL, events (web/admin.py, keys.py, server.py) ---
class DestinationStatus(Struct):
    enabled: bool
    pending: int
    inflight: int
    delivered: int
    dead: int
    paused: bool
    paused_reason: str | None
    oldest_pending_age_seconds: float | None


class Status(Struct):
    """The server's figures since start (``convtrack status``)."""

    version: str
    store: str  # the store URL, password redacted
    schema_version: int
    queue_pending: int
    commits: int
    events_committed: int
    events_new: int
    rejected: int
    commit_failures: int
    last_commit_ms: float
    events_by_source: dict[str, int]
    pixel_dropped: dict[str, int]
    forwarding: dict[str, DestinationStatus]


class KeyView(Struct):
    """A write key as it may be shown: never the key or its hash."""

    key_id: str
    name: str
    kind: Literal["public", "secret"]
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class NewKey(KeyView):
    """The new key: ``key`` is shown this once."""

    key: str


class Keys(Struct):
    keys: list[KeyView]


class PlanInForce(Struct):
    version: str | None
    file: str | None


class PlanReloaded(PlanInForce):
    previous_version: str | None


class SqlAnswer(Struct):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


class StoredEvents(Struct):
    events: list[StoredRow]  # rows of the events table


# --- quarantine (web/quarantine_api.py, collect/quarantine.py) ---
class QuarantineSummary(Struct):
    """A quarantine row without its payload."""

    reject_id: str
    received_at: datetime
    source: str
    key_id: str | None
    reasons: list[Detail]  # why it was refused
    plan_version: str | None
    event_name: str | None
    ip: str | None
    user_agent: str | None
    batch_sent_at: datetime | None
    status: Literal["quarantined", "replayed"]
    replayed_at: datetime | None
    replayed_event_id: str | None


class QuarantineRows(Struct):
    rows: list[QuarantineSummary]  # newest first
    top_reasons: list[ReasonCount]


class QuarantineItem(QuarantineSummary):
    payload: Any  # the event as received (JSON, or the text when it was not JSON)


class Replayed(Struct):
    plan_version: str | None
    dry_run: bool
    counts: dict[str, int]  # per outcome status
    outcomes: list[Outcome]


class Links(Struct):
    links: list[Link]


# --- outbox and destinations (web/outbox_api.py, forward/service.py) ---
class Job(Struct):
    job_id: str
    event_id: str
    destination: str
    conversion: str
    platform_event: str
    status: JobStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    lease_until: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class Attempt(Struct):
    job_id: str
    event_id: str
    destination: str
    attempt: int
    at: datetime
    outcome: AttemptOutcome
    http_status: int | None
    latency_ms: float | None
    excerpt: str | None


class Jobs(Struct):
    jobs: list[Job]  # newest first


class JobLog(Struct):
    jobs: list[Job]
    log: list[Attempt]  # oldest first


class DestinationState(Struct):
    destination: str
    enabled: bool
    pending: int
    inflight: int
    delivered: int
    dead: int
    paused_at: datetime | None
    reason: str | None
    consecutive_failures: int = 0  # present once the destination has jobs or state
    oldest_pending_at: datetime | None = None


class Destinations(Struct):
    destinations: list[DestinationState]


class Retried(Struct):
    retried: int


class ReplayedJobs(Struct):
    replayed: int


class Resumed(Struct):
    resumed: str
    due: int


class DestinationTest(Struct):
    destination: str
    verdict: Literal["accepted", "refused"]
    outcome: str
    http_status: int | None
    message: str


# --- privacy and spend (privacy/export.py, web/spend_api.py) ---
class Identifier(Struct):
    kind: str
    value: str  # hashed as stored (emails, phones, external ids)


class PersonExport(Struct):
    """Everything held about a person: identifiers, consent decisions and, per table that
    holds person data, every row about them."""

    exported_at: datetime
    requested: str
    person_ids: list[str]
    identifiers: list[Identifier]
    consent: list[dict[str, Any]]  # event_id, occurred_at, consent, consent_decision
    tables: dict[str, list[StoredRow]]


class Erased(Struct):
    """What was erased (or, with ``dry_run``, would be): rows per table."""

    dry_run: bool
    requested: str
    identifiers: int
    persons: int
    deleted: dict[str, int]
    total: int


def _cutoff(**more: Any) -> dict[str, Any]:
    """The JSON Schema of rows per table (``additionalProperties``) beside ``before``, the
    cut-off time, and ``more``."""
    listed = {"before": {"type": "string", "format": "date-time"}, **more}
    return {"properties": listed, "required": sorted(listed)}


PurgedRows = Annotated[
    dict[str, int],
    Meta(
        title="PurgedRows",
        description="Rows deleted (or, dry run, to delete) per table",
        extra_json_schema=_cutoff(),
    ),
]
TruncatedIps = Annotated[
    dict[str, int],
    Meta(
        title="TruncatedIps",
        description="Full IPs truncated (or, dry run, to truncate): distinct ones, rows per table",
        extra_json_schema=_cutoff(distinct_ips={"type": "integer"}),
    ),
]


class Purged(Struct, omit_defaults=True):
    """``POST /v1/admin/privacy/purge`` (privacy/retention.py): each part only when its
    setting is on (``retention_days``, ``raw_ip_hours``)."""

    dry_run: bool
    purged: PurgedRows | None = None
    raw_ips: TruncatedIps | None = None


class SpendImported(Struct):
    rows: int
    inserted: int
    replaced: int


Counts = Annotated[dict[str, int], Meta(title="Counts", description="What it holds, by kind")]


# --- export (export/parquet.py, web/export_stream.py) ---
class ExportTables(Struct):
    identity_people: int
    spend: int


class Exported(Struct):
    """``POST /v1/admin/export``: the days written this run, those unchanged, event rows."""

    written: list[str]
    skipped: int
    rows: int
    tables: ExportTables


class ExportCounts(Struct):
    done: int
    total: int
    day: str  # the day being written; "" once all are


class ExportProgress(Struct):
    """A progress line of the ``application/x-ndjson`` answer."""

    progress: ExportCounts
