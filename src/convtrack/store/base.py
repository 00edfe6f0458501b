"""``EventStore``: the interface every backend implements, and ``open_store(url)``.

Backends are chosen by URL scheme (``duckdb:///path.duckdb``, ``postgresql://…``).
Engine-specific SQL stays inside each backend.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from convtrack.errors import ConvtrackError
from convtrack.events import Event, Rejected
from convtrack.store.dashboard_model import AlertRecord, StoredSession
from convtrack.store.links_model import Link, SkanPostback
from convtrack.store.outbox_model import Attempt, ClaimedJob

if TYPE_CHECKING:  # types only: identity code runs in the backends, imported lazily
    from convtrack.identity.graph import GraphRows
    from convtrack.identity.records import StitchPolicy


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    kind: str  # "public" (write-only, browsers) or "secret" (servers)
    prefix: str  # first characters of the key, safe to show
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class QuarantineFilter:
    """Which quarantine rows to list: every field that is set must match."""

    status: str | None = None  # "quarantined" or "replayed"
    source: str | None = None
    since: datetime | None = None  # received at or after
    reason: str | None = None  # a substring of a reason or its JSON pointer (case-insensitive)
    before: tuple[datetime, str] | None = None  # page cursor: (received_at, reject_id)


@dataclass(frozen=True)
class SpendRow:
    """One day's ad spend (see docs/spend.md). Text keys are '' when absent, never None;
    (day, platform, channel, campaign, currency) is the key an import replaces on."""

    day: date
    platform: str
    channel: str
    campaign: str
    spend: Decimal  # >= 0, at most 6 decimal places
    currency: str  # ISO 4217
    impressions: int | None = None
    clicks: int | None = None

    @property
    def key(self) -> tuple[date, str, str, str, str]:
        return (self.day, self.platform, self.channel, self.campaign, self.currency)


# One quarantine row as a dict: its columns, with ``reasons`` decoded to a list.
QuarantineRow = dict[str, Any]
# What ``replay_quarantined`` did with each row: "new" (event stored), "duplicate" (its
# event_id was already stored) or "skipped" (the row was no longer quarantined).
ReplayStatus = str


@dataclass(frozen=True)
class CreditsJob:
    """What ``save_credits`` runs: the credit rows' SELECT (``?`` parameters), the
    data-driven models' shares as an Arrow table (model, path, label, share) or None, and
    which rows it replaces (models, conversions from ``start`` up to ``end``)."""

    sql: str
    params: list[Any]
    shares: Any  # pyarrow.Table | None
    models: list[str]
    start: date | None
    end: date | None


@dataclass(frozen=True)
class Person:
    """One person as a rights request names them: every identifier stitched to the one asked
    for, as stored (``*_sha256`` values hashed), and their ids in the identity graph."""

    identifiers: tuple[tuple[str, str], ...]  # (kind, value)
    person_ids: tuple[str, ...] = ()
    requested: str = ""  # the kind the request named


class StoreLocked(ConvtrackError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            "store_locked",
            "The store is held by another process (a running `convtrack serve`?). "
            f"Read commands go through the server when it is running. ({detail})",
            status=409,
        )


class EventStore(abc.ABC):
    """A durable event store. ``append`` is idempotent on ``event_id``."""

    url: str

    @abc.abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the names applied."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def append(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> int:
        """Store events (and quarantined rejects) in one committed transaction.

        Returns how many events were new (an already stored event_id is skipped)."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        """Run one read-only statement. Anything else raises ConvtrackError(read_only)."""

    @abc.abstractmethod
    def events_after(self, cursor: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        """Events ordered by (received_at, event_id) strictly after ``cursor``."""

    @abc.abstractmethod
    def last_events(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` events, oldest first (where a tail starts)."""

    @abc.abstractmethod
    def count_events(self) -> int: ...

    @abc.abstractmethod
    def count_quarantined(self) -> int: ...

    # quarantine
    @abc.abstractmethod
    def list_quarantined(self, filters: QuarantineFilter, limit: int) -> list[QuarantineRow]:
        """Matching rows, newest first (``received_at``, then ``reject_id``, descending)."""

    @abc.abstractmethod
    def quarantine_reasons(
        self, filters: QuarantineFilter, limit: int
    ) -> list[tuple[str, str, int]]:
        """The most frequent (path, reason) pairs among matching rows, with their counts."""

    @abc.abstractmethod
    def get_quarantined(self, reject_id: str) -> QuarantineRow | None: ...

    @abc.abstractmethod
    def replay_quarantined(self, replays: Sequence[tuple[str, Event]]) -> dict[str, ReplayStatus]:
        """In one transaction: store each (reject_id, event) whose row is still quarantined
        (idempotently, like ``append``) and mark that row replayed with the event's id."""

    # click links and SKAdNetwork postbacks (migration 0014_links_skan)
    @abc.abstractmethod
    def insert_link(self, link: Link) -> None:
        """Store a click link (its id is new: a taken one raises)."""

    @abc.abstractmethod
    def get_link(self, link_id: str) -> Link | None: ...

    @abc.abstractmethod
    def list_links(self) -> list[Link]: ...

    @abc.abstractmethod
    def insert_skan(self, postback: SkanPostback) -> bool:
        """Store a verified postback; False when its transaction id is stored already."""

    @abc.abstractmethod
    def skan_summary(self, start: datetime | None, end: datetime | None) -> list[tuple[Any, ...]]:
        """Postbacks per source identifier and app received in [start, end), as
        ``links_model.SKAN_SUMMARY_COLUMNS`` rows (aggregates only, never a postback)."""

    # spend
    @abc.abstractmethod
    def upsert_spend(self, rows: Sequence[SpendRow], source: str = "") -> dict[str, int]:
        """In one transaction (all or nothing): store each row, replacing the stored row with
        the same key. ``source`` names the imported file. Returns ``{"inserted", "replaced"}``
        counts. Two rows with the same key raise ConvtrackError(duplicate_spend_key)."""

    # attribution
    @abc.abstractmethod
    def save_credits(self, job: CreditsJob) -> int:
        """In one transaction: delete the ``conversion_credits`` rows of the job's models for
        conversions in its range, then insert the rows of its query (with ``path_shares``
        available to it when given). Returns the number of rows inserted."""

    # identity
    @abc.abstractmethod
    def replace_identity(self, rows: GraphRows, people: list[tuple[str, str]]) -> None:
        """In one transaction: replace the whole identity graph — ``identity_identifiers``,
        ``identity_merges``, ``identity_refused`` from ``rows`` and ``identity_people`` from
        ``people`` (``(anonymous_id, person_id)`` pairs) — with the given rows."""

    @abc.abstractmethod
    def configure_identity(self, policy: StitchPolicy, at_ingest: bool = True) -> None:
        """Stitch with ``policy``; when ``at_ingest``, every ``append`` (and replay) stitches
        the events it inserts into the identity graph in the same transaction (the default:
        ``StitchPolicy()``, on). Call once after opening, before appending."""

    @abc.abstractmethod
    def rebuild_identity(self) -> dict[str, int]:
        """In one transaction, holding off appends: stitch every stored event from scratch
        with the configured policy and replace the identity graph; what it holds."""

    # rights and retention (docs/privacy.md)
    @abc.abstractmethod
    def person_data(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        """Every row held about ``person``, per table (events, quarantine, identity, …)."""

    @abc.abstractmethod
    def erase_person(self, person: Person, dry_run: bool = False) -> dict[str, int]:
        """In one transaction: delete the person's rows from every table holding person data,
        tombstone their identifiers (hashed) so later appends drop their events, and log the
        erasure. Returns the rows deleted per table (counted only when ``dry_run``)."""

    @abc.abstractmethod
    def purge_before(self, before: datetime, dry_run: bool = False) -> dict[str, int]:
        """Retention: delete events, quarantine rows and conversion copies received before
        ``before``, finished outbox jobs and delivery-log rows from before it, and the
        identity rows no kept event holds (docs/privacy.md); the counts per table."""

    @abc.abstractmethod
    def raw_ips(self, before: datetime) -> list[str]:
        """The distinct IPs stored with events or quarantine rows received before ``before``."""

    @abc.abstractmethod
    def replace_ips(self, before: datetime, mapping: dict[str, str | None]) -> dict[str, int]:
        """In rows received before ``before``, replace each IP by its mapping; counts."""

    # forwarding outbox (migration 0011; jobs are written by ``append`` from Event.deliveries)
    @abc.abstractmethod
    def claim_jobs(
        self, destination: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[ClaimedJob]:
        """In one transaction: lease up to ``limit`` due jobs of ``destination`` (pending and
        due, or inflight whose lease ran out), each with its stored event; none when paused."""

    @abc.abstractmethod
    def complete_jobs(
        self, destination: str, attempts: Sequence[Attempt], failures: int | None = None
    ) -> None:
        """In one transaction: record each attempt (job status, delivery_log row) and, when
        given, the destination's run of consecutive failed requests."""

    @abc.abstractmethod
    def list_jobs(
        self, status: str | None, destination: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Outbox jobs, newest first."""

    @abc.abstractmethod
    def show_jobs(self, key: str) -> dict[str, list[dict[str, Any]]]:
        """``{"jobs", "log"}``: the jobs with this job id or event id and their attempts."""

    @abc.abstractmethod
    def outbox_stats(self) -> dict[str, dict[str, Any]]:
        """Per destination: jobs per status, paused_at, reason, consecutive_failures."""

    @abc.abstractmethod
    def retry_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        """Make matching pending jobs due at ``now``; how many."""

    @abc.abstractmethod
    def replay_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        """Matching dead jobs back to pending, due at ``now``; how many."""

    @abc.abstractmethod
    def pause_destination(self, destination: str, reason: str, now: datetime) -> None: ...

    @abc.abstractmethod
    def resume_destination(self, destination: str, now: datetime) -> int:
        """Unpause; make its pending jobs due now (how many)."""

    # dashboard sessions and alerts (migration 0016; store/dashboard_model.py)
    @abc.abstractmethod
    def create_session(self, session: StoredSession) -> None:
        """Store a dashboard session (its id only as ``session_hash``; a taken hash raises)."""

    @abc.abstractmethod
    def get_session(self, id_hash: str, now: datetime) -> StoredSession | None:
        """The session with this hash unless it expired by ``now``; its ``last_seen`` is set
        to ``now`` when older than ``TOUCH_AFTER`` (so a read is a write only that often)."""

    @abc.abstractmethod
    def delete_session(self, id_hash: str) -> bool:
        """End a session at once, on every node; False when there was none."""

    @abc.abstractmethod
    def purge_expired_sessions(self, now: datetime) -> int:
        """Delete the sessions expired by ``now``; how many."""

    # failed dashboard sign-ins (migration 0018; web/session.py)
    @abc.abstractmethod
    def note_signin_attempt(
        self, ip_hash: str, now: datetime, window: timedelta, purge: bool = True
    ) -> tuple[datetime, int]:
        """Count one sign-in attempt from the address with this hash (``address_hash``):
        the start of its window and its attempts in that window, this one included. A window
        starts at the first attempt after the last one ended (``window`` long); with
        ``purge``, rows of ended windows are deleted. Atomic: racing attempts from any node
        all count."""

    @abc.abstractmethod
    def clear_signin_attempts(self, ip_hash: str) -> None:
        """Forget the address's attempts (it signed in)."""

    @abc.abstractmethod
    def raise_alert(self, alert: AlertRecord) -> bool:
        """Insert an open alert under its condition's key (``INSERT … ON CONFLICT DO
        NOTHING``); False, writing nothing, when that condition's alert is open already —
        raised by this node or another. The caller that gets True holds the webhook's claim
        (the alert's ``claimed_at``) and posts it."""

    @abc.abstractmethod
    def claim_alerts(self, now: datetime, lease: timedelta) -> list[AlertRecord]:
        """Claim, at ``now``, every pending alert (open or cleared) never claimed or claimed
        at ``now - lease`` or before (its claimer stopped before posting): the alerts claimed,
        oldest raised first. Each alert goes to one of any number of racing claimers."""

    @abc.abstractmethod
    def record_alert_delivery(
        self,
        keys: Sequence[str],
        status: str,
        attempts: int,
        error: str,
        claimed_at: datetime | None = None,
    ) -> None:
        """Record how posting these alerts' (row keys) webhook went; with ``claimed_at``, only
        on those still under that claim (not taken over since)."""

    @abc.abstractmethod
    def clear_alerts(self, active: Sequence[str], now: datetime) -> list[str]:
        """Close every open alert whose key is not in ``active``: set ``cleared_at`` and rename
        its key (``condition`` keeps it), so the condition alerts again if it comes back.
        Returns the conditions cleared."""

    @abc.abstractmethod
    def list_alerts(self, limit: int, open_only: bool = False) -> list[AlertRecord]:
        """Alerts, newest raised first (only the open ones when ``open_only``)."""

    @abc.abstractmethod
    def purge_alerts(self, before: datetime) -> int:
        """Delete the alerts cleared before ``before``; how many."""

    # keys
    @abc.abstractmethod
    def insert_key(self, record: KeyRecord, key_hash: str) -> None: ...

    @abc.abstractmethod
    def list_keys(self) -> list[KeyRecord]: ...

    @abc.abstractmethod
    def key_hashes(self) -> dict[str, KeyRecord]:
        """Active keys by their SHA-256 hash (what the collector checks against)."""

    @abc.abstractmethod
    def revoke_key(self, key_id_or_name: str) -> KeyRecord | None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # export
    def export_parquet(
        self,
        out: str,
        start: date | None = None,
        end: date | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> dict[str, Any]:
        """Write the Parquet lake under ``out`` (convtrack.export) from this store, beside its
        writer; what was written. The server runs it for ``POST /v1/admin/export``;
        ``progress(done, total, day)`` as in ``convtrack.export.parquet.export_parquet``."""
        from pathlib import Path

        from convtrack.export.stores import export_store

        return export_store(self, Path(out), start, end, progress).as_json()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str, *, read_only: bool = False) -> EventStore:
    scheme = url.split("://", 1)[0].lower()
    if scheme == "duckdb":
        from convtrack.store.duckdb_store import DuckDBStore

        return DuckDBStore(url, read_only=read_only)
    if scheme in ("postgresql", "postgres"):
        from convtrack.store.postgres import PostgresStore

        return PostgresStore(url, read_only=read_only)
    raise ConvtrackError(
        "unsupported_store",
        f"Unknown store URL scheme {scheme!r}; use duckdb:///path/to/file.duckdb"
        " or postgresql://user@host:port/database.",
        status=500,
    )
