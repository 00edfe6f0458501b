"""Operator actions on the outbox and the destinations, over any ``EventStore``.

The admin API (web/outbox_api.py) and the CLI without a running server (cli/outbox.py) both
call these; answers are plain JSON values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from convtrack.config import Settings
from convtrack.errors import ConfigError, ConvtrackError
from convtrack.forward.destination import get, registry
from convtrack.forward.enabled import enabled_names
from convtrack.forward.transport import DEFAULT_TIMEOUT, send
from convtrack.forward.worker import utcnow
from convtrack.jsonable import plain_row
from convtrack.store.base import EventStore
from convtrack.store.outbox_model import STATUSES


def list_jobs(
    store: EventStore, status: str | None, destination: str | None, limit: int
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise ConvtrackError("bad_status", f"status must be one of {', '.join(STATUSES)}.")
    rows = store.list_jobs(status, destination, max(1, min(int(limit), 100_000)))
    return {"jobs": [plain_row(r) for r in rows]}


def show(store: EventStore, key: str) -> dict[str, Any]:
    found = store.show_jobs(key)
    if not found["jobs"]:
        raise ConvtrackError("job_not_found", f"No outbox job with job or event id {key!r}.", 404)
    return {name: [plain_row(r) for r in rows] for name, rows in found.items()}


def _one_target(job_id: str | None, destination: str | None) -> None:
    if (job_id is None) == (destination is None):
        raise ConvtrackError("bad_request", "Name one job id, or one destination (not both).")


def retry(store: EventStore, job_id: str | None, destination: str | None) -> dict[str, Any]:
    _one_target(job_id, destination)
    return {"retried": store.retry_jobs(job_id, destination, utcnow())}


def replay(store: EventStore, job_id: str | None, destination: str | None) -> dict[str, Any]:
    return {"replayed": store.replay_jobs(job_id, destination, utcnow())}


def resume(store: EventStore, name: str) -> dict[str, Any]:
    _known(name)
    return {"resumed": name, "due": store.resume_destination(name, utcnow())}


def destinations(store: EventStore, settings: Settings) -> dict[str, Any]:
    """Every enabled destination, and any other one with jobs: state and job counts."""
    stats = store.outbox_stats()
    enabled = enabled_names(settings)
    names = enabled + sorted(set(stats) - set(enabled))
    empty = {s: 0 for s in STATUSES}
    rows = []
    for name in names:
        entry = {**empty, "paused_at": None, "reason": None, **stats.get(name, {})}
        rows.append({"destination": name, "enabled": name in enabled, **plain_row(entry)})
    return {"destinations": rows}


def status(store: EventStore, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """The operator's figures per destination (``/v1/admin/status``): jobs pending, inflight,
    delivered and dead; whether it is paused; the age in seconds of its oldest job not yet
    delivered (pending or inflight; None when there is none)."""
    now = now or utcnow()
    stats = store.outbox_stats()
    enabled = enabled_names(settings)
    found: dict[str, Any] = {}
    for name in enabled + sorted(set(stats) - set(enabled)):
        entry = stats.get(name, {})
        oldest = entry.get("oldest_pending_at")
        found[name] = {
            "enabled": name in enabled,
            **{s: int(entry.get(s, 0)) for s in STATUSES},
            "paused": entry.get("paused_at") is not None,
            "paused_reason": entry.get("reason"),
            "oldest_pending_age_seconds": None
            if oldest is None
            else round(max(0.0, (now - oldest).total_seconds()), 3),
        }
    return found


def _known(name: str) -> None:
    if name not in registry():
        raise ConvtrackError(
            "unknown_destination", f"No destination {name!r}; known: {', '.join(registry())}.", 404
        )


async def test(name: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Send the destination's test request (Meta test_event_code, Data Manager validateOnly,
    GA4's debug endpoint, …) and say what the platform made of it."""
    _known(name)
    destination = get(name)
    try:
        config = destination.config_from_env(os.environ if env is None else env)
        request = destination.test_request(config)
    except ConfigError as exc:  # the request is fine; this server's settings cannot test it
        raise ConvtrackError("destination_not_testable", exc.message, status=409) from exc
    async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, trust_env=False) as client:
        outcome = await send(request, client, destination)
    return {
        "destination": name,
        "verdict": "accepted" if outcome.delivered else "refused",
        "outcome": outcome.status,
        "http_status": outcome.http_status,
        "message": outcome.message,
    }
