# ruff: noqa: S608  (SQL text composed here is our own constant fragments; values are ? parameters)
"""Alerts: a webhook posted when an anomaly, a dead-letter surge or a paused destination occurs.

``check`` turns the store's state into alert conditions, each with a stable key. ``Alerter``
keeps alerts in the store (table ``alerts``, migration 0016), so every collector sharing it
lists the same alerts at ``GET /v1/qa/alerts`` and a restart forgets nothing. A condition's
open alert is stored under its key with ``INSERT … ON CONFLICT DO NOTHING``: it alerts once
while it lasts. When a condition no longer holds its alert is closed (``cleared_at`` set, the
row's key renamed, ``condition`` keeping it), so it alerts again if it comes back. Closed
alerts are deleted ``KEEP_DAYS`` after they cleared.

Posting is claimed (``claimed_at``, migration 0018): the node whose insert won holds the new
alert's claim and posts it. A pending alert whose claim is older than the lease (``LEASE``, or
longer when a post with all its retries may take longer) was left by a node that stopped
before posting: the next check on any node claims it again — one UPDATE, so one claimer wins
— and posts it with its own. Each alert is thus posted by one node, and still posted when its
raiser dies; a node that dies after posting but before recording it gets it posted twice (at
least once, never lost). An outcome is recorded only under the claim it was posted with.

New alerts are posted to ``alert_webhook_url`` as JSON, signed with HMAC-SHA256 when a secret
is set (``X-Convtrack-Signature: sha256=<hex of the body>``). A post is tried ``attempts``
times with doubling pauses; the outcome is recorded on the alerts and a failure logged, never
raised. ``run_forever`` is the background task of ``convtrack serve``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from convtrack.config import Settings
from convtrack.qa import anomaly
from convtrack.qa.sql import between, iso, rows, utcnow
from convtrack.store.base import EventStore
from convtrack.store.dashboard_model import AlertRecord

log = logging.getLogger("convtrack.qa.alerts")
KEEP_DAYS = 30  # closed alerts are deleted this long after they cleared
OPEN_LISTED = 1000  # at most this many open conditions listed as "active"
POSTED = ("key", "kind", "message", "details", "raised_at")  # what the webhook body holds
SIGNATURE_HEADER = "x-convtrack-signature"
QUOTED_AT = '"at"'
LEASE = timedelta(minutes=2)  # a pending alert's claim older than this is taken over


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
    store: EventStore  # where alerts are raised, cleared and listed
    url: str = ""
    secret: str = ""
    attempts: int = 3
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0
    keep_days: int = KEEP_DAYS
    transport: httpx.AsyncBaseTransport | None = None  # tests and fakes swap the network
    lease: timedelta = LEASE
    clock: Callable[[], datetime] = utcnow  # tests move time (the lease) without sleeping

    @classmethod
    def from_settings(cls, settings: Settings, store: EventStore) -> Alerter:
        return cls(store, url=settings.alert_webhook_url, secret=settings.alert_webhook_secret)

    def fresh(self, conditions: Iterable[Condition], now: datetime) -> list[dict[str, Any]]:
        """Close the alerts whose condition cleared, raise the rest: the alerts this call
        raised (an open one, raised here before or by another node, is not raised again)."""
        return [view(r) for r in self._raise(conditions, now)]

    def _raise(self, conditions: Iterable[Condition], now: datetime) -> list[AlertRecord]:
        """``fresh``'s records: a pending one is claimed at ``now`` by this node."""
        conditions = list(conditions)
        self.store.clear_alerts([c.key for c in conditions], now)
        status, claimed = ("pending", now) if self.url else ("not_configured", None)
        raised = [
            AlertRecord(
                c.key, c.kind, c.message, c.details, now, webhook_status=status, claimed_at=claimed
            )
            for c in conditions
        ]
        won = [r for r in raised if self.store.raise_alert(r)]
        self.store.purge_alerts(now - timedelta(days=self.keep_days))
        return won

    def claim_lease(self) -> timedelta:
        """``lease``, or longer when one post (every attempt timing out, with its pauses) may
        outlast it: a claim must not lapse while its holder still posts."""
        pauses = sum(self.backoff_seconds * 2**i for i in range(max(self.attempts - 1, 0)))
        longest = self.attempts * self.timeout_seconds + pauses
        return max(self.lease, timedelta(seconds=2 * longest))

    def body(self, alerts: list[dict[str, Any]]) -> bytes:
        # A taken-over alert may have cleared before anyone posted it: it says so.
        payload = [
            {k: a[k] for k in POSTED if k in a}
            | ({"cleared_at": a["cleared_at"]} if a.get("cleared_at") else {})
            for a in alerts
        ]
        return msgspec.json.encode({"type": "convtrack.alerts", "alerts": payload})

    def headers(self, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "convtrack-alerts"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = "sha256=" + digest
        return headers

    async def post(self, alerts: list[dict[str, Any]]) -> bool:
        """Post the alerts (one request); True when the receiver answered 2xx. Each alert's
        ``webhook``, ``webhook_attempts`` and ``webhook_error`` say how it went."""
        if not alerts or not self.url:
            return False
        body = self.body(alerts)
        outcome, error, tried = "failed", "", 0
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout_seconds
        ) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                tried = attempt + 1
                try:
                    response = await client.post(self.url, content=body, headers=self.headers(body))
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    outcome, error = "sent", ""
                    break
                error = f"HTTP {response.status_code}"
                if response.status_code in (400, 401, 403, 404, 422):
                    break  # retrying cannot help
        for a in alerts:
            a.update(webhook=outcome, webhook_attempts=tried, webhook_error=error)
        if outcome != "sent":
            log.warning("alert webhook failed after retries: %s", error)
        return outcome == "sent"

    async def run_once(self, settings: Settings) -> list[dict[str, Any]]:
        """Check, raise what is new (on this node only what its insert won), take over the
        pending alerts whose claim lapsed, and post them all: the alerts this node raised or
        posted."""
        conditions = await asyncio.to_thread(check, self.store, settings, self.clock())
        now = self.clock()  # after the check, which may be slow: the claims start here
        records = await asyncio.to_thread(self._raise, conditions, now)
        if self.url:
            taken = await asyncio.to_thread(self.store.claim_alerts, now, self.claim_lease())
            records += taken  # claimed at now
        alerts = [view(r) for r in records]
        if alerts and self.url:
            await self.post(alerts)
            first = alerts[0]  # one request: one outcome for all of them
            await asyncio.to_thread(
                self.store.record_alert_delivery,
                [r.key for r in records],  # the rows' keys (a cleared one's is renamed)
                first["webhook"],
                first["webhook_attempts"],
                first["webhook_error"],
                now,  # only while still under this node's claim
            )
        return alerts

    def listing(self, limit: int = 100) -> dict[str, Any]:
        """The newest ``limit`` alerts (open and cleared) and the open conditions' keys."""
        recent = self.store.list_alerts(max(1, limit))
        open_now = self.store.list_alerts(OPEN_LISTED, open_only=True)
        return {
            "alerts": [view(a) for a in recent],
            "active": sorted(a.condition for a in open_now),
        }


def view(alert: AlertRecord) -> dict[str, Any]:
    """An alert as the API lists it and the webhook posts it (without the ``webhook*``)."""
    return {
        "key": alert.condition or alert.key,
        "kind": alert.kind,
        "message": alert.message,
        "details": alert.details,
        "raised_at": iso(alert.raised_at) if alert.raised_at else None,
        "cleared_at": iso(alert.cleared_at) if alert.cleared_at else None,
        "webhook": alert.webhook_status,
        "webhook_attempts": alert.webhook_attempts,
        "webhook_error": alert.webhook_error,
    }


async def run_forever(alerter: Alerter, settings: Settings) -> None:
    """Check every ``alert_interval_minutes``; a failed check is logged, never raised."""
    while True:
        try:
            await alerter.run_once(settings)
        except Exception:
            log.exception(
                "alert check failed; trying again in %d min", settings.alert_interval_minutes
            )
        await asyncio.sleep(settings.alert_interval_minutes * 60)
