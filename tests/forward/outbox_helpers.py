"""Purchases as the collector stores them, for the outbox tests (worker and end to end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from convtrack.enrich.pii import hash_identifiers
from convtrack.events import Consent, Context, Event, Identifiers

RAW_EMAIL = "Buyer.One@Example.com"
RAW_PHONE = "+1 (650) 555-0100"
RAW_VALUES = (RAW_EMAIL, RAW_EMAIL.lower(), "buyer.one@example.com", "6505550100", RAW_PHONE)


def stored_purchase(event_id: str, *, age: timedelta = timedelta(minutes=5), **kw: Any) -> Event:
    """A purchase with hashed identifiers (as enrich leaves it), a page, a browser and value."""
    now = datetime.now(UTC)
    event = Event(
        event_id=event_id,
        event_name="purchase",
        type="track",
        source="tag",
        occurred_at=now - age,
        received_at=now,
        anonymous_id="anon-" + event_id,
        context=Context(
            url="https://shop.example.com/thanks",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            ip="203.0.113.7",
        ),
        identifiers=Identifiers(email=RAW_EMAIL, phone=RAW_PHONE),
        consent=kw.pop("consent", None) or Consent(ad_user_data="granted"),
        value=42.5,
        currency="EUR",
        order_id="O-" + event_id,
        properties={"order_id": "O-" + event_id, "value": 42.5},
        **kw,
    )
    return hash_identifiers(event, region="US")


def assert_no_raw_pii(bodies: list[Any]) -> None:
    text = repr(bodies).lower()
    for raw in RAW_VALUES:
        assert raw.lower() not in text, f"raw personal data {raw!r} was sent"


def dedup_key(destination: str, event_id: str) -> str:
    """What a fake records a delivered purchase by: GA4 dedupes on transaction_id (order id)."""
    return f"O-{event_id}" if destination == "ga4" else event_id
