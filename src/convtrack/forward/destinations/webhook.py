"""A generic JSON webhook for your own systems.

Each request is ``POST {"events": [...]}`` to ``CONVTRACK_WEBHOOK_URL`` with
``X-Convtrack-Timestamp: <unix seconds when signed>`` and
``X-Convtrack-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with
CONVTRACK_WEBHOOK_SECRET>``. Signing the timestamp with the body lets a receiver refuse replays
of an old request: verify with :func:`verify`, which also checks the timestamp's age.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from convtrack.errors import ConfigError
from convtrack.forward.destination import Destination, DestinationConfig, HttpRequest, register
from convtrack.forward.model import ForwardEvent
from convtrack.forward.wire import JSON_HEADERS, compact, json_body

SIGNATURE_HEADER = "X-Convtrack-Signature"
TIMESTAMP_HEADER = "X-Convtrack-Timestamp"
DEFAULT_BATCH = 100
#: how old a signed request :func:`verify` still accepts, in seconds
DEFAULT_TOLERANCE = 300


def sign(body: bytes, secret: str, timestamp: str) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    body: bytes,
    signature: str,
    secret: str,
    timestamp: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``signature`` signs ``timestamp + "." + body`` and the timestamp is fresh.

    A request older (or newer) than ``tolerance`` seconds is refused, so a captured request
    cannot be replayed later; deduplicate on ``event_id`` for retries inside that window.
    """
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(body, secret, timestamp), signature)


def original_json(event: ForwardEvent) -> dict[str, Any] | None:
    """An adjustment's ``original``: the stored conversion it adjusts, or None (JSON null)
    when that is not stored; its identifiers are the event's own (forward/original.py)."""
    found = event.original
    if found is None:
        return None
    return compact(
        {
            "event_id": found.event_id,
            "occurred_at": found.rfc3339,
            "value": found.value,
            "currency": found.currency,
        }
    ) | {"consented": found.consented}


def as_json(event: ForwardEvent) -> dict[str, Any]:
    body = _as_json(event)
    if event.kind == "adjustment":
        body["original"] = original_json(event)
    return body


def _as_json(event: ForwardEvent) -> dict[str, Any]:
    return compact(
        {
            "event_id": event.event_id,
            "event_name": event.event_name,
            "occurred_at": event.rfc3339,
            "kind": event.kind,
            "adjustment_type": event.adjustment_type,
            "original_order_id": event.original_order_id,
            "source": event.source,
            "page_url": event.page_url,
            "referrer": event.referrer,
            "client_ip": event.client_ip,
            "user_agent": event.user_agent,
            "click_ids": dict(event.click_ids),
            "fbc": event.fbc,
            "fbp": event.fbp,
            "ttp": event.ttp,
            "anonymous_id": event.anonymous_id,
            "user_id": event.user_id,
            "user_data": dict(event.user_data),
            "value": event.value,
            "currency": event.currency,
            "order_id": event.order_id,
            "contents": [dict(c) for c in event.contents],
            "consent": {k: v for k, v in event.consent.items() if v is not None},
            "properties": dict(event.properties),
        }
    )


@register
class Webhook(Destination):
    name = "webhook"
    kind = "first_party"
    max_batch = 10_000  # a ceiling; CONVTRACK_WEBHOOK_MAX_BATCH picks the size
    max_age = None
    default_base_url = "http://localhost"
    required_env = ("URL", "SECRET")
    optional_env = ("MAX_BATCH",)
    secret_env = frozenset({"SECRET"})
    supports_adjustments = True
    adjustment_types = frozenset({"refund", "cancel", "restatement"})
    adjustments_doc = (
        "Forwards every adjustment (kind, adjustment_type, original_order_id) with its "
        "original conversion (original: event id, time, value, currency; null when not stored)."
    )

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def config_from_env(self, env: Mapping[str, str]) -> DestinationConfig:
        url = env.get("CONVTRACK_WEBHOOK_URL", "")
        config = super().config_from_env({**env, "CONVTRACK_WEBHOOK_BASE_URL": url})
        batch = config.get("MAX_BATCH", str(DEFAULT_BATCH)) or ""
        if not batch.isdigit() or not 1 <= int(batch) <= self.max_batch:
            raise ConfigError(
                f"CONVTRACK_WEBHOOK_MAX_BATCH must be a positive integer, not {batch!r}"
            )
        return config

    def batch_size(self, config: DestinationConfig) -> int:
        return int(config.get("MAX_BATCH") or DEFAULT_BATCH)

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        body = json_body({"events": [as_json(e) for e in events]})
        timestamp = str(int(self.clock()))
        headers = {
            **JSON_HEADERS,
            SIGNATURE_HEADER: sign(body, config["SECRET"], timestamp),
            TIMESTAMP_HEADER: timestamp,
        }
        return HttpRequest(
            "POST",
            config.base_url,
            headers,
            body,
            tuple(e.event_id for e in events),
            config.secrets,
        )
