"""Retention: delete rows past ``retention_days`` (and, with the events, the identity rows no
kept event holds: docs/privacy.md); replace raw IPs older than ``raw_ip_hours`` by their
truncated form (``enrich.consent.truncate_ip``). ``convtrack privacy purge`` runs it once;
``convtrack serve`` every ``retention_interval_minutes``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from convtrack.config import Settings
from convtrack.enrich.consent import truncate_ip
from convtrack.store.base import EventStore

log = logging.getLogger("convtrack.privacy")


@dataclass(frozen=True)
class Retention:
    days: int = 0  # 0: keep forever
    raw_ip_hours: int = 0  # 0: raw IPs never expire
    interval_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            settings.retention_days, settings.raw_ip_hours, settings.retention_interval_minutes
        )

    @property
    def active(self) -> bool:
        return bool(self.days or self.raw_ip_hours)


def purge(
    store: EventStore, policy: Retention, *, now: datetime | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Apply the policy once; what it deleted (``purged``) and truncated (``raw_ips``)."""
    now = now or datetime.now(UTC)
    done: dict[str, Any] = {"dry_run": dry_run}
    if policy.days:
        before = now - timedelta(days=policy.days)
        done["purged"] = {"before": before.isoformat(), **store.purge_before(before, dry_run)}
    if policy.raw_ip_hours:
        done["raw_ips"] = expire_ips(store, now - timedelta(hours=policy.raw_ip_hours), dry_run)
    return done


def expire_ips(store: EventStore, before: datetime, dry_run: bool = False) -> dict[str, Any]:
    """Replace every full IP stored with a row received before ``before`` by its truncated
    form (an unparseable one by nothing), one distinct IP at a time."""
    mapping = {}
    for ip in store.raw_ips(before):
        short = truncate_ip(ip)
        if short != ip:
            mapping[ip] = short
    counts = {} if dry_run or not mapping else store.replace_ips(before, mapping)
    return {"before": before.isoformat(), "distinct_ips": len(mapping), **counts}


async def run_forever(store: EventStore, policy: Retention) -> None:
    """Apply the policy now and then every interval; a failure is logged, never raised."""
    while True:
        try:
            done = await asyncio.to_thread(purge, store, policy)
            log.info("retention: %s", done)
        except Exception:
            log.exception("retention run failed; retrying in %d min", policy.interval_minutes)
        await asyncio.sleep(policy.interval_minutes * 60)
