"""GA4 Measurement Protocol (specs/tracking-protocols.md §4c).

One request carries one client: ``client_id``, ``user_id``, consent, ``user_data`` and
``timestamp_micros`` sit at the top level, so events are grouped by those before batching to at
most 25. The production endpoint accepts anything with 2xx; ``/debug/mp/collect`` reports
``validationMessages`` and is what ``test_request`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from convtrack.forward.destination import (
    Destination,
    DestinationConfig,
    HttpRequest,
    Outcome,
    probe,
    register,
)
from convtrack.forward.model import ForwardEvent
from convtrack.forward.outcome import excerpt
from convtrack.forward.wire import (
    JSON_HEADERS,
    compact,
    hashed,
    json_body,
    money,
    plain,
    with_query,
)
from convtrack.plan.rules import GA4_NAME, GA4_RESERVED, GA4_RESERVED_PREFIXES

# Event-name rules (specs/tracking-protocols.md §4c) are the plan linter's, so a plan that
# lints clean never produces a name GA4 refuses.
NAME, RESERVED_PREFIXES, RESERVED_EVENTS = GA4_NAME, GA4_RESERVED_PREFIXES, GA4_RESERVED
MAX_PARAMS = 25
MAX_VALUE_CHARS = 100
CONSENT = {"granted": "GRANTED", "denied": "DENIED"}


def valid_name(name: str) -> bool:
    return bool(NAME.match(name)) and not name.startswith(RESERVED_PREFIXES)


def client_id(event: ForwardEvent) -> str | None:
    """The ``_ga`` client id when the tag captured it, else convtrack's anonymous id."""
    cid = event.properties.get("ga_client_id") or event.anonymous_id
    return str(cid) if cid else None


def user_data(event: ForwardEvent) -> dict[str, Any]:
    addr = compact(
        {
            "sha256_first_name": hashed(event, "first_name"),
            "sha256_last_name": hashed(event, "last_name"),
            "city": plain(event, "city"),
            "region": plain(event, "state"),
            "postal_code": plain(event, "zip"),
            "country": plain(event, "country"),
        }
    )
    return compact(
        {
            "sha256_email_address": [h] if (h := hashed(event, "email")) else None,
            "sha256_phone_number": [h] if (h := hashed(event, "phone")) else None,
            "address": [addr] if addr else None,
        }
    )


def params(event: ForwardEvent) -> dict[str, Any]:
    items = [
        compact(
            {
                "item_id": c.get("id"),
                "price": money(c.get("item_price")),
                "quantity": c.get("quantity"),
            }
        )
        for c in event.contents
    ]
    out = compact(
        {
            "transaction_id": event.order_id,
            "value": money(event.value),
            "currency": event.currency.upper() if event.currency else None,
            "items": items,
            "page_location": event.page_url,
            "page_referrer": event.referrer,
            "session_id": event.properties.get("ga_session_id"),
            "engagement_time_msec": event.properties.get("engagement_time_msec"),
        }
    )
    for key, value in sorted(event.properties.items()):
        if len(out) >= MAX_PARAMS:
            break
        if key in out or key.startswith("ga_") or not valid_name(key):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        out[key] = value[:MAX_VALUE_CHARS] if isinstance(value, str) else value
    return out


@register
class GA4(Destination):
    name = "ga4"
    kind = "analytics"
    max_batch = 25
    max_age = timedelta(hours=72)
    default_base_url = "https://www.google-analytics.com"
    required_env = ("MEASUREMENT_ID", "API_SECRET")
    optional_env = ("BASE_URL", "DEBUG")
    secret_env = frozenset({"API_SECRET"})
    consent_required = ("analytics_storage",)
    adjustments_doc = (
        "Measurement Protocol events cannot be retracted or restated, and the spec describes "
        "no refund call; refunds can only be sent as ordinary events under a mapped name."
    )

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if not client_id(event):
            return "no client id (properties.ga_client_id or anonymous_id)"
        if not valid_name(event.event_name) or event.event_name in RESERVED_EVENTS:
            return f"{event.event_name!r} is not a valid GA4 event name"
        if event.value is not None and not (event.currency and event.order_id):
            return "an event with a value needs currency and order_id (transaction_id)"
        return None

    def group(self, events: list[ForwardEvent]) -> list[list[ForwardEvent]]:
        groups: dict[str, list[ForwardEvent]] = {}
        for event in events:
            groups.setdefault(json.dumps(self.envelope(event), sort_keys=True), []).append(event)
        return list(groups.values())

    def envelope(self, event: ForwardEvent) -> dict[str, Any]:
        """The top-level fields an event shares with the others of its request."""
        consent = compact(
            {
                "ad_user_data": CONSENT.get(event.consent_of("ad_user_data") or ""),
                "ad_personalization": CONSENT.get(event.consent_of("ad_personalization") or ""),
            }
        )
        return compact(
            {
                "client_id": client_id(event),
                "user_id": event.user_id,
                "timestamp_micros": event.unix_millis * 1000,
                "consent": consent,
                "user_data": user_data(event),
            }
        )

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        body = {
            **self.envelope(events[0]),
            "events": [{"name": e.event_name, "params": params(e)} for e in events],
        }
        return self.request(body, config, config.flag("DEBUG"), tuple(e.event_id for e in events))

    def request(
        self, body: dict[str, Any], config: DestinationConfig, debug: bool, ids: tuple[str, ...]
    ) -> HttpRequest:
        path = "/debug/mp/collect" if debug else "/mp/collect"
        url = with_query(
            config.base_url + path,
            {"measurement_id": config["MEASUREMENT_ID"], "api_secret": config["API_SECRET"]},
        )
        return HttpRequest("POST", url, JSON_HEADERS, json_body(body), ids, config.secrets)

    def test_request(self, config: DestinationConfig) -> HttpRequest:
        event = probe("convtrack_test", anonymous_id="555.1")
        body = {**self.envelope(event), "events": [{"name": event.event_name, "params": {}}]}
        return self.request(body, config, True, (event.event_id,))

    def classify(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request: HttpRequest | None = None,
    ) -> Outcome:
        outcome = super().classify(status, headers, body, request)
        messages = validation_messages(body) if outcome.delivered else []
        if not messages:
            return outcome
        text = "; ".join(
            f"{m.get('validationCode')} {m.get('fieldPath', '')}: {m.get('description', '')}"
            for m in messages
        )
        return Outcome("dead", status, message=excerpt(text, request.secrets if request else ()))


def validation_messages(body: bytes) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        return []
    found = parsed.get("validationMessages") if isinstance(parsed, dict) else None
    return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []
