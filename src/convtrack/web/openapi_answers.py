"""The JSON answers ``/openapi.json`` describes: errors, ingest, health, reports and QA.

msgspec generates their JSON Schema (web/openapi.py). Where the code that answers already has
a typed structure, that structure is used as it is (``anomaly.Anomaly``, ``anomaly.Band``,
the conversions report's ``By``); the rest mirror the dicts the handlers build, and
tests/web/test_openapi_answers.py checks each against real answers, rejecting any key not
listed, so a schema that drifts from its handler fails there. Fields without a default are required;
``X | None`` without a default is a key always present that may be null. The schemas leave
extra keys allowed, so adding a key to an answer is not a breaking change for clients.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec import Struct

from convtrack.qa.anomaly import Anomaly, Band
from convtrack.reports.conversions import By

Number = int | float


class Detail(Struct, omit_defaults=True):
    """One problem: ``path`` is a JSON pointer into the event; ``index`` its place in a batch."""

    reason: str
    path: str | None = None
    index: int | None = None


class ErrorInfo(Struct):
    code: str
    message: str
    details: list[Detail] = []


class Error(Struct):
    """The one error shape of every HTTP error (docs/api.md, "Errors: one shape")."""

    error: ErrorInfo


class EcapiAnswer(Struct):
    """``POST /v1/ecapi/events`` (and the base of the other ingest answers): counted once the
    accepted events are committed; ``errors`` are the rejected ones (kept in quarantine)."""

    accepted: int
    rejected: int
    errors: list[Detail]
    warnings: list[Detail]


class EventsAnswer(EcapiAnswer, omit_defaults=True):
    """``POST /v1/events``."""

    dropped: int | None = None  # only when not 0: consent allows storing nothing of them
    anonymous_id: str | None = None  # public keys: the first-party identity cookie's id


class SegmentAnswer(EcapiAnswer, omit_defaults=True):
    """The Segment/RudderStack paths (collect/segment.py): what their SDKs expect, 200 with
    ``success`` even when messages were quarantined (listed in ``errors`` by ``index``)."""

    success: Literal[True]
    dropped: int | None = None  # only when not 0: consent allows storing nothing of them


class SkanAnswer(Struct, omit_defaults=True):
    """A SKAdNetwork postback copy, in custody either way (collect/skan.py)."""

    status: Literal["stored", "duplicate", "quarantined"]
    reason: str | None = None  # quarantined: why (bad_signature, malformed_json, …)


class Healthy(Struct):
    status: str
    version: str


class Ready(Struct):
    status: str
    queue_pending: int


class SessionInfo(Struct):
    csrf_token: str
    expires_at: float


class TimeWindow(Struct):
    """``from`` ≤ time < ``to`` (UTC)."""

    from_: datetime = msgspec.field(name="from")
    to: datetime


# --- GET /v1/reports/* (attribution/report.py, reports/conversions.py) ---
class ModelUsed(Struct):
    model: str
    options: dict[str, Any]


class AttributionRow(Struct):
    """One model × label (× time bucket). Money in the report currency; ``revenue_other``
    holds revenue in other currencies, never added to ``revenue``."""

    model: str
    label: str
    bucket: str | None
    conversions: float | None
    revenue: float | None
    revenue_other: dict[str, float | None]
    spend: float | None
    cpa: float | None
    roas: float | None


class AttributionTotals(Struct):
    conversions: int
    spend: float | None


class TopPath(Struct):
    path: list[str]
    conversions: int
    share: float | None
    revenue: float | None


class PathLength(Struct):
    touches: str  # "1" … "9", "10+"
    conversions: int


class DaysToConvert(Struct):
    days: str  # "same day", "1 day", "2-3 days", … "31+ days"
    conversions: int


class PathAnalytics(Struct):
    top: list[TopPath]
    length: list[PathLength]
    days_to_convert: list[DaysToConvert]


class AttributionReport(Struct):
    """The attribution report (``convtrack attribute --format json``)."""

    level: str
    currency: str
    grain: str | None
    models: list[ModelUsed]
    totals: AttributionTotals
    rows: list[AttributionRow]
    paths: PathAnalytics
    notes: list[str]
    model_details: dict[str, dict[str, Any]]  # per data-driven model: what it says of the paths


class CreditsWritten(Struct):
    rows: int
    models: list[str]


class ConversionsReport(Struct):
    """Rows are lists in the order of ``columns``, which depend on ``by`` (docs/api.md)."""

    by: By
    columns: list[str]
    rows: list[list[str | Number | None]]
    currency: str


# --- GET /v1/qa/health (qa/health.py) ---
class MinuteVolume(Struct):
    minute: datetime
    source: str
    events: int


class SourceVolume(Struct):
    events: int
    per_minute: float


class Volume(Struct):
    per_minute: list[MinuteVolume]
    by_source: dict[str, SourceVolume]
    events: int


class ReasonCount(Struct):
    path: str | None
    reason: str
    count: int


class QuarantineFigures(Struct):
    quarantined: int
    rate: float | None
    top_reasons: list[ReasonCount]


class ConversionMatch(Struct):
    conversions: int
    both: int
    browser_only: int
    server_only: int
    other: int
    match_rate: float | None


class Dedup(Struct):
    received: int
    stored: int
    duplicates: int
    dedup_rate: float | None


class DedupFigures(Struct):
    conversions: Dedup
    orders: int
    order_duplicates: int
    order_duplicate_rate: float | None
    since_start: Dedup | None


class MatchQuality(Struct):
    events: int
    shares: dict[str, float | None]  # email, phone, fbc_fbp, click_id, ip_user_agent
    score: float


class Latency(Struct):
    p50: float | None
    p95: float | None


class Delivery(Struct):
    attempts: int
    delivered: int
    retried: int
    dead_letters: int
    success_rate: float | None
    latency_ms: Latency


class DestinationHealth(Struct):
    match_quality: MatchQuality | None
    delivery: Delivery | None
    dead_letters_total: int
    pending: int
    paused_at: datetime | None
    paused_reason: str | None


class Health(Struct):
    """Tracking health of a window (docs/qa.md)."""

    window: TimeWindow
    volume: Volume
    quarantine: QuarantineFigures
    conversions: ConversionMatch
    dedup: DedupFigures
    destinations: dict[str, DestinationHealth]


# --- GET /v1/qa/anomalies, /alerts, /modeled (qa/anomaly.py, qa/alerts.py, qa/modeled.py) ---
class BandPoint(Struct):
    hour: datetime
    observed: int
    forecast: Number | None
    lower: Number | None
    upper: Number | None


class ChartedSeries(Struct):
    source: str
    event_name: str
    anomalies: int
    points: list[BandPoint]


class Anomalies(Struct):
    checked: TimeWindow
    band: Band
    anomalies: list[Anomaly]
    series: list[ChartedSeries]


class Alert(Struct):
    key: str
    kind: str
    message: str
    details: dict[str, Any]
    raised_at: datetime | None
    cleared_at: datetime | None
    webhook: Literal["not_configured", "pending", "sent", "failed"]
    webhook_attempts: int
    webhook_error: str


class Alerts(Struct):
    alerts: list[Alert]
    active: list[str]  # the keys of the conditions still open


class Interval(Struct):
    lower: float
    upper: float


class ChannelEstimate(Struct):
    channel: str
    consented_visits: int
    consented_conversions: int
    consented_out_visits: int
    conversion_rate: float | None
    modeled: float
    interval95: Interval
    pooled_rate: bool  # the channel had no consented visit: the pooled rate was used


class Observed(Struct):
    consented: int
    pseudonymous: int


class Modeled(Struct):
    """Modeled conversions beside the observed ones (docs/qa.md#modeled-conversions)."""

    window: TimeWindow
    observed: Observed
    modeled: float
    interval95: Interval
    pooled_rate: float
    channels: list[ChannelEstimate]
    method: str


# --- GET /v1/debug/events (web/debug_api.py): one list, tagged by ``status`` ---
class Validation(Struct):
    valid: bool
    reasons: list[Detail]


class AcceptedEvent(Struct, tag_field="status", tag="accepted"):
    event_id: str
    event_name: str
    type: str | None
    source: str
    anonymous_id: str | None
    user_id: str | None
    occurred_at: datetime
    received_at: datetime
    page_url: str | None
    value: float | None
    currency: str | None
    validation: Validation
    consent: dict[str, Any] | None  # the consent decision applied at ingest


class QuarantinedEvent(Struct, tag_field="status", tag="quarantined"):
    reject_id: str
    event_name: str | None
    source: str
    received_at: datetime
    anonymous_id: str | None
    validation: Validation
    consent: None
    quarantine_status: str  # quarantined, or replayed since


class DebugEvents(Struct):
    events: list[AcceptedEvent | QuarantinedEvent]  # newest first
    filters: dict[str, str]
    limit: int
