"""Fixed ForwardEvents for each platform, with user_data in that platform's wire form."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from msgspec.structs import replace

from convtrack.forward import ForwardEvent

FIXED = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
FIXED_NOW = FIXED + timedelta(hours=1)
RAW_EMAIL = "Person@Example.com"


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


EMAIL = h("person@example.com")
USER_DATA: dict[str, dict[str, str]] = {
    "meta": {
        "email": EMAIL,
        "phone": h("448444124653"),
        "first_name": h("mary"),
        "last_name": h("jane"),
        "city": h("newyork"),
        "state": h("ny"),
        "zip": h("94025"),
        "country": h("us"),
        "external_id": h("user-42"),
    },
    "google_dm": {
        "email": EMAIL,
        "phone": h("+448444124653"),
        "first_name": h("mary"),
        "last_name": h("jane"),
        "country": "us",
        "zip": "94025",
    },
    "ga4": {
        "email": EMAIL,
        "phone": h("+448444124653"),
        "first_name": h("mary"),
        "last_name": h("jane"),
        "city": "new york",
        "state": "ny",
        "zip": "94025",
        "country": "us",
    },
    "tiktok": {"email": EMAIL, "phone": h("+448444124653"), "external_id": h("user-42")},
    "linkedin": {"email": EMAIL, "first_name": "Mary", "last_name": "Jane", "country": "US"},
    "snapchat": {"email": EMAIL, "phone": h("448444124653")},
    "pinterest": {"email": EMAIL, "phone": h("448444124653"), "external_id": h("user-42")},
    "reddit": {"email": EMAIL, "phone": h("+448444124653"), "external_id": h("user-42")},
    "webhook": {"email": EMAIL},
}
EVENT_NAMES = {
    "meta": "Purchase",
    "google_dm": "purchase",
    "ga4": "purchase",
    "tiktok": "CompletePayment",
    "linkedin": "purchase",
    "snapchat": "PURCHASE",
    "pinterest": "checkout",
    "reddit": "Purchase",
    "webhook": "purchase",
}
PLATFORMS = tuple(EVENT_NAMES)
CLICK_IDS = {
    "gclid": "Cj0KCQiA-EXAMPLE-GCLID",
    "fbclid": "IwAR2xYzFbClId",
    "ttclid": "E.C.P.v3FakeTtclid",
    "li_fat_id": "0d7a5b6c-1f2e-4c3d-9a8b-7e6f5d4c3b2a",
    "ScCid": "5b2a8c1e-snap-click",
    "epik": "dj0yJnU9ZmFrZWVwaWs",
    "rdt_cid": "1234567890123456789_fake",
}


def purchase(
    platform: str, occurred_at: datetime = FIXED, index: int = 1, **changes: Any
) -> ForwardEvent:
    event = ForwardEvent(
        event_id=f"evt-{index}",
        event_name=EVENT_NAMES[platform],
        occurred_at=occurred_at,
        source="web",
        page_url="https://shop.example.com/checkout/thanks",
        referrer="https://shop.example.com/cart",
        client_ip="203.0.113.7",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Fake/1.0",
        click_ids=CLICK_IDS,
        fbp="fb.1.1596403881668.1116446470",
        ttp="2F7h37YkS1j57AYSKTI7IHhJPYH",
        anonymous_id="555.1",
        user_id="user-42",
        user_data=USER_DATA[platform],
        value=129.95,
        currency="USD",
        order_id=f"ORDER-{10041 + index}",
        contents=({"id": "SKU1", "quantity": 2, "item_price": 64.975},),
        consent={
            "ad_user_data": "granted",
            "ad_personalization": "granted",
            "analytics_storage": "granted",
        },
        properties={"coupon": "SPRING"},
    )
    return replace(event, **changes) if changes else event


def dedupe_key(platform: str, event: ForwardEvent) -> str:
    """The id each platform's fake records for an event."""
    if platform in ("google_dm", "ga4"):
        return str(event.order_id)
    return event.event_id
