"""The collector's side of the store process (process.py): ``RemoteWriter`` has the
group-commit writer's interface and queues events for the child; ``RemoteStore`` is an
``EventStore`` whose every method is a call answered by the child's store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from convtrack.events import Event, Rejected
from convtrack.store.base import (
    CreditsJob,
    EventStore,
    KeyRecord,
    Person,
    QuarantineFilter,
    QuarantineRow,
    QueryResult,
    ReplayStatus,
    SpendRow,
)
from convtrack.store.dashboard_model import AlertRecord, StoredSession
from convtrack.store.links_model import Link, SkanPostback
from convtrack.store.outbox_model import Attempt, ClaimedJob
from convtrack.store.writer import Done, WriterStats, submit_and_wait

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphRows
    from convtrack.identity.records import StitchPolicy
    from convtrack.store.process import StoreProcess


class RemoteWriter:
    """``GroupCommitWriter``'s interface, backed by the store process."""

    def __init__(self, process: StoreProcess) -> None:
        self._process = process

    @property
    def pending(self) -> int:
        return self._process.pending

    @property
    def queue_max_events(self) -> int:
        return self._process.queue_max_events

    @property
    def stats(self) -> WriterStats:
        return self._process.stats

    @property
    def healthy(self) -> bool:
        return not self._process.dead

    def submit(
        self, events: Sequence[Event], rejected: Sequence[Rejected] = (), done: Done | None = None
    ) -> None:
        self._process.submit(events, rejected, done)

    async def write(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None:
        await submit_and_wait(self._process.submit, events, rejected)

    def stop(self) -> None:
        self._process.stop()


class RemoteStore(EventStore):
    """``EventStore`` whose every method runs in the store process."""

    def __init__(self, process: StoreProcess, url: str) -> None:
        self._process = process
        self.url = url

    def migrate(self) -> list[str]:
        return list(self._process.call("migrate"))

    def schema_version(self) -> int:
        return int(self._process.call("schema_version"))

    def append(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> int:
        return int(self._process.call("append", list(events), list(rejected)))

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        result: QueryResult = self._process.call("query", sql, list(params))
        return result

    def events_after(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        return list(self._process.call("events_after", cursor, limit))

    def last_events(self, limit: int) -> list[dict[str, Any]]:
        return list(self._process.call("last_events", limit))

    def count_events(self) -> int:
        return int(self._process.call("count_events"))

    def count_quarantined(self) -> int:
        return int(self._process.call("count_quarantined"))

    def list_quarantined(self, filters: QuarantineFilter, limit: int) -> list[QuarantineRow]:
        return list(self._process.call("list_quarantined", filters, limit))

    def quarantine_reasons(
        self, filters: QuarantineFilter, limit: int
    ) -> list[tuple[str, str, int]]:
        return list(self._process.call("quarantine_reasons", filters, limit))

    def get_quarantined(self, reject_id: str) -> QuarantineRow | None:
        row: QuarantineRow | None = self._process.call("get_quarantined", reject_id)
        return row

    def replay_quarantined(self, replays: Sequence[tuple[str, Event]]) -> dict[str, ReplayStatus]:
        return dict(self._process.call("replay_quarantined", list(replays)))

    def upsert_spend(self, rows: Sequence[SpendRow], source: str = "") -> dict[str, int]:
        return dict(self._process.call("upsert_spend", list(rows), source))

    def insert_link(self, link: Link) -> None:
        self._process.call("insert_link", link)

    def get_link(self, link_id: str) -> Link | None:
        link: Link | None = self._process.call("get_link", link_id)
        return link

    def list_links(self) -> list[Link]:
        return list(self._process.call("list_links"))

    def insert_skan(self, postback: SkanPostback) -> bool:
        return bool(self._process.call("insert_skan", postback))

    def skan_summary(self, start: datetime | None, end: datetime | None) -> list[tuple[Any, ...]]:
        return list(self._process.call("skan_summary", start, end))

    def save_credits(self, job: CreditsJob) -> int:
        return int(self._process.call("save_credits", job))

    def replace_identity(self, rows: GraphRows, people: list[tuple[str, str]]) -> None:
        self._process.call("replace_identity", rows, list(people))

    def configure_identity(self, policy: StitchPolicy, at_ingest: bool = True) -> None:
        self._process.call("configure_identity", policy, at_ingest)

    def rebuild_identity(self) -> dict[str, int]:
        return dict(self._process.call("rebuild_identity"))

    def person_data(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        return dict(self._process.call("person_data", person))

    def erase_person(self, person: Person, dry_run: bool = False) -> dict[str, int]:
        return dict(self._process.call("erase_person", person, dry_run))

    def purge_before(self, before: Any, dry_run: bool = False) -> dict[str, int]:
        return dict(self._process.call("purge_before", before, dry_run))

    def export_parquet(
        self, out: str, start: Any = None, end: Any = None, progress: Any = None
    ) -> dict[str, Any]:
        if progress is None:
            return dict(self._process.call("export_parquet", out, start, end))
        # the child calls its own ``progress``; each call is relayed here, in order
        return dict(self._process.call_reporting("export_parquet", progress, out, start, end))

    def raw_ips(self, before: Any) -> list[str]:
        return list(self._process.call("raw_ips", before))

    def replace_ips(self, before: Any, mapping: dict[str, str | None]) -> dict[str, int]:
        return dict(self._process.call("replace_ips", before, mapping))

    def claim_jobs(
        self, destination: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[ClaimedJob]:
        return list(self._process.call("claim_jobs", destination, limit, lease_seconds, now))

    def complete_jobs(
        self, destination: str, attempts: Sequence[Attempt], failures: int | None = None
    ) -> None:
        self._process.call("complete_jobs", destination, list(attempts), failures)

    def list_jobs(
        self, status: str | None, destination: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return list(self._process.call("list_jobs", status, destination, limit))

    def show_jobs(self, key: str) -> dict[str, list[dict[str, Any]]]:
        return dict(self._process.call("show_jobs", key))

    def outbox_stats(self) -> dict[str, dict[str, Any]]:
        return dict(self._process.call("outbox_stats"))

    def retry_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        return int(self._process.call("retry_jobs", job_id, destination, now))

    def replay_jobs(self, job_id: str | None, destination: str | None, now: datetime) -> int:
        return int(self._process.call("replay_jobs", job_id, destination, now))

    def pause_destination(self, destination: str, reason: str, now: datetime) -> None:
        self._process.call("pause_destination", destination, reason, now)

    def resume_destination(self, destination: str, now: datetime) -> int:
        return int(self._process.call("resume_destination", destination, now))

    def create_session(self, session: StoredSession) -> None:
        self._process.call("create_session", session)

    def get_session(self, id_hash: str, now: datetime) -> StoredSession | None:
        session: StoredSession | None = self._process.call("get_session", id_hash, now)
        return session

    def delete_session(self, id_hash: str) -> bool:
        return bool(self._process.call("delete_session", id_hash))

    def purge_expired_sessions(self, now: datetime) -> int:
        return int(self._process.call("purge_expired_sessions", now))

    def raise_alert(self, alert: AlertRecord) -> bool:
        return bool(self._process.call("raise_alert", alert))

    def claim_alerts(self, now: datetime, lease: timedelta) -> list[AlertRecord]:
        return list(self._process.call("claim_alerts", now, lease))

    def record_alert_delivery(
        self,
        keys: Sequence[str],
        status: str,
        attempts: int,
        error: str,
        claimed_at: datetime | None = None,
    ) -> None:
        self._process.call("record_alert_delivery", list(keys), status, attempts, error, claimed_at)

    def note_signin_attempt(
        self, ip_hash: str, now: datetime, window: timedelta, purge: bool = True
    ) -> tuple[datetime, int]:
        call = self._process.call
        first_at, attempts = call("note_signin_attempt", ip_hash, now, window, purge)
        return first_at, int(attempts)

    def clear_signin_attempts(self, ip_hash: str) -> None:
        self._process.call("clear_signin_attempts", ip_hash)

    def clear_alerts(self, active: Sequence[str], now: datetime) -> list[str]:
        return list(self._process.call("clear_alerts", list(active), now))

    def list_alerts(self, limit: int, open_only: bool = False) -> list[AlertRecord]:
        return list(self._process.call("list_alerts", limit, open_only))

    def purge_alerts(self, before: datetime) -> int:
        return int(self._process.call("purge_alerts", before))

    def insert_key(self, record: KeyRecord, key_hash: str) -> None:
        self._process.call("insert_key", record, key_hash)

    def list_keys(self) -> list[KeyRecord]:
        return list(self._process.call("list_keys"))

    def key_hashes(self) -> dict[str, KeyRecord]:
        return dict(self._process.call("key_hashes"))

    def revoke_key(self, key_id_or_name: str) -> KeyRecord | None:
        record: KeyRecord | None = self._process.call("revoke_key", key_id_or_name)
        return record

    def close(self) -> None:
        self._process.stop()
