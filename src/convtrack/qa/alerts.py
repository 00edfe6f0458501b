# ruff: noqa: S608  (SQL text composed here is our own constant fragments; values are ? parameters)
"""Alerts: a webhook posted when an anomaly, a dead-letter surge or a paused destination occurs.

``check`` turns the store's state into alert conditions, each with a stable key; ``Alerter``
remembers the keys it has raised, so a condition alerts once while it lasts (and again only
after it has cleared), keeps the most recent alerts for ``GET /v1/qa/alerts`` and posts new
ones to ``alert_webhook_url`` as JSON, signed with HMAC-SHA256 when a secret is set
(``X-Convtrack-Signature: sha256=<hex of the body>``). A post is tried ``attempts`` times
with doubling pauses; a failure is recorded on the alert and logged, never raised.
``run_forever`` is the background task of ``convtrack serve``. Alerts live in memory: a
restart forgets them (and may raise a still-present condition once more).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from convtrack.config import Settings
from convtrack.qa import anomaly
from convtrack.qa.sql import between, iso, rows, utcnow
from convtrack.store.base import EventStore

log = logging.getLogger("convtrack.qa.alerts")
KEEP = 200  # recent alerts kept for the dashboard
SIGNATURE_HEADER = "x-convtrack-signature"
QUOTED_AT = '"at"'


@dataclass(frozen=True)
class Condition:
    key: str  # the same condition gives the same key on every check
    kind: str  # "anomaly" | "dead_letter_surge" | "destination_paused"
    message: str
    details: dict[str, Any]


def dead_letter_surges(
    store: EventStore, now: datetime, minutes: int, threshold: int
) -> list[Condition]:
    sql = (
        "SELECT destination, count(*) AS n FROM delivery_log "
        f"WHERE outcome = 'dead' AND {between(QUOTED_AT)} GROUP BY 1 ORDER BY 1"
    )
    found = rows(store, sql, [iso(now - timedelta(minutes=minutes)), iso(now)])
    return [
        Condition(
            f"dead_letter_surge:{r['destination']}",
            "dead_letter_surge",
            f"{r['n']} events to {r['destination']} became dead letters in {minutes} min.",
            {"destination": r["destination"], "dead_letters": int(r["n"]), "minutes": minutes},
        )
        for r in found
        if int(r["n"]) >= threshold
    ]


def paused_destinations(store: EventStore) -> list[Condition]:
    out = []
    for name, st in sorted(store.outbox_stats().items()):
        paused = st.get("paused_at")
        if paused is None:
            continue
        out.append(
            Condition(
                f"destination_paused:{name}:{iso(paused)}",
                "destination_paused",
                f"Forwarding to {name} is paused: {st.get('reason') or 'no reason given'}.",
                {"destination": name, "paused_at": iso(paused), "reason": st.get("reason")},
            )
        )
    return out


def anomalies(store: EventStore, now: datetime, band: anomaly.Band) -> list[Condition]:
    return [
        Condition(
            a.key,
            "anomaly",
            f"{a.kind} in {a.source}/{a.event_name} at {a.hour}: {a.count} events, "
            f"expected {a.expected:g} ({a.lower:g}..{a.upper:g}).",
            a.as_json(),
        )
        for a in anomaly.detect(store, now, hours=1, band=band)
    ]


def check(store: EventStore, settings: Settings, now: datetime | None = None) -> list[Condition]:
    """Every alert condition that holds now."""
    now = now or utcnow()
    window = max(settings.alert_interval_minutes, 1)
    return [
        *anomalies(store, now, anomaly.Band()),
        *dead_letter_surges(store, now, window, settings.alert_dead_letters),
        *paused_destinations(store),
    ]


@dataclass
class Alerter:
    url: str = ""
    secret: str = ""
    attempts: int = 3
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None  # tests and fakes swap the network
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEEP))
    _active: set[str] = field(default_factory=set, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Alerter:
        return cls(url=settings.alert_webhook_url, secret=settings.alert_webhook_secret)

    def fresh(self, conditions: Iterable[Condition], now: datetime) -> list[dict[str, Any]]:
        """The conditions not already raised, as alerts; forget the ones that cleared."""
        conditions = list(conditions)
        new = [c for c in conditions if c.key not in self._active]
        self._active = {c.key for c in conditions}
        alerts = [
            {"key": c.key, "kind": c.kind, "message": c.message, "details": c.details,
             "raised_at": iso(now), "webhook": "not_configured" if not self.url else "pending"}
            for c in new
        ]  # fmt: skip
        self.recent.extend(alerts)
        return alerts

    def body(self, alerts: list[dict[str, Any]]) -> bytes:
        payload = [{k: v for k, v in a.items() if k != "webhook"} for a in alerts]
        return msgspec.json.encode({"type": "convtrack.alerts", "alerts": payload})

    def headers(self, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "convtrack-alerts"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = "sha256=" + digest
        return headers

    async def post(self, alerts: list[dict[str, Any]]) -> bool:
        """Post the alerts (one request); True when the receiver answered 2xx."""
        if not alerts or not self.url:
            return False
        body = self.body(alerts)
        outcome, error = "failed", ""
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout_seconds
        ) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                try:
                    response = await client.post(self.url, content=body, headers=self.headers(body))
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    outcome = "sent"
                    break
                error = f"HTTP {response.status_code}"
                if response.status_code in (400, 401, 403, 404, 422):
                    break  # retrying cannot help
        for a in alerts:
            a["webhook"] = outcome
        if outcome != "sent":
            log.warning("alert webhook failed after retries: %s", error)
        return outcome == "sent"

    async def run_once(self, store: EventStore, settings: Settings) -> list[dict[str, Any]]:
        conditions = await asyncio.to_thread(check, store, settings)
        alerts = self.fresh(conditions, utcnow())
        await self.post(alerts)
        return alerts

    def listing(self, limit: int = 100) -> dict[str, Any]:
        newest = list(self.recent)[::-1][: max(1, limit)]
        return {"alerts": newest, "active": sorted(self._active)}


async def run_forever(alerter: Alerter, store: EventStore, settings: Settings) -> None:
    """Check every ``alert_interval_minutes``; a failed check is logged, never raised."""
    while True:
        try:
            await alerter.run_once(store, settings)
        except Exception:
            log.exception(
                "alert check failed; trying again in %d min", settings.alert_interval_minutes
            )
        await asyncio.sleep(settings.alert_interval_minutes * 60)
