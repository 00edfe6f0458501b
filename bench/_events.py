"""A realistic, deterministic event mix for the ingest benchmarks (wire form, as clients send).

Mix per 100 events: 60 page views (context + campaign + consent), 15 ``track`` events with
small properties (10 ``view_item``, 5 ``add_to_cart``), 25 purchases (value, currency, order
id, raw identifiers to hash, nested properties, click ids). Names and properties are valid
under the default tracking plan, so checking them costs what it costs for real traffic.
Every event has a unique ``event_id`` so stored counts can be checked.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from convtrack.collect.parse import Origin, decode_body, to_event
from convtrack.config import Settings
from convtrack.enrich.pii import hash_identifiers
from convtrack.events import Event

PAGES = [
    "/",
    "/pricing",
    "/product/blue-widget",
    "/product/red-widget",
    "/blog/attribution-101",
    "/signup",
    "/cart",
    "/checkout",
    "/docs/getting-started",
    "/about",
]
SOURCES = [
    ("google", "cpc"),
    ("facebook", "paid_social"),
    ("newsletter", "email"),
    ("bing", "cpc"),
    ("tiktok", "paid_social"),
    ("partner", "referral"),
]
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
]
CURRENCIES = ["USD", "EUR", "GBP"]


def _campaign(rng: random.Random) -> dict[str, Any]:
    source, medium = rng.choice(SOURCES)
    out: dict[str, Any] = {
        "utm_source": source,
        "utm_medium": medium,
        "utm_campaign": f"spring_sale_{rng.randrange(20)}",
    }
    if source == "google":
        out["gclid"] = f"Cj0KCQjw{rng.getrandbits(96):024x}_BwE"
    elif source == "facebook":
        out["fbclid"] = f"IwAR{rng.getrandbits(128):032x}"
    if rng.random() < 0.3:
        out["utm_content"] = f"ad_{rng.randrange(100)}"
    return out


def _context(rng: random.Random, path: str) -> dict[str, Any]:
    return {
        "url": f"https://shop.example.com{path}?utm_source=x&ref={rng.randrange(1000)}",
        "referrer": "https://www.google.com/",
        "title": f"Shop Example — {path.strip('/') or 'home'}",
        "user_agent": rng.choice(UAS),
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "locale": "en-US",
    }


def _consent(rng: random.Random) -> dict[str, Any]:
    v = "granted" if rng.random() < 0.8 else "denied"
    return {
        "ad_storage": v,
        "analytics_storage": "granted",
        "ad_user_data": v,
        "ad_personalization": v,
    }


def make_event(rng: random.Random, run: str, i: int, now_ms: int) -> dict[str, Any]:
    anon = f"anon-{rng.getrandbits(64):016x}"
    base: dict[str, Any] = {
        "event_id": f"{run}-{i}",
        "timestamp": now_ms - rng.randrange(0, 60_000),
        "anonymous_id": anon,
        "session_id": f"s-{rng.getrandbits(32):08x}",
    }
    roll = i % 20
    if roll < 12:  # page view
        path = rng.choice(PAGES)
        base |= {
            "type": "page",
            "context": _context(rng, path),
            "campaign": _campaign(rng),
            "consent": _consent(rng),
        }
    elif roll < 15:  # product interaction
        base |= {
            "type": "track",
            "event_name": "view_item" if roll < 14 else "add_to_cart",
            "context": _context(rng, "/product/blue-widget"),
            "properties": {
                "item_id": f"SKU-{rng.randrange(500)}",
                "price": 19.99,
                "quantity": 1,
                "currency": "USD",
            },
        }
    else:  # conversion
        uid = rng.randrange(1_000_000)
        value = round(rng.uniform(5, 400), 2)
        base |= {
            "type": "conversion",
            "event_name": "purchase",
            "user_id": f"user-{uid}",
            "value": value,
            "currency": rng.choice(CURRENCIES),
            "order_id": f"order-{run}-{i}",
            "identifiers": {
                "email": f"  Customer.{uid}@Example.com ",
                "phone": f"+1 (555) {rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
                "external_id": f"CRM-{uid}",
            },
            "context": _context(rng, "/checkout/thank-you"),
            "campaign": _campaign(rng),
            "consent": _consent(rng),
            "properties": {
                "items": [
                    {
                        "item_id": f"SKU-{rng.randrange(500)}",
                        "quantity": rng.randrange(1, 4),
                        "price": 19.99,
                    }
                    for _ in range(rng.randrange(1, 4))
                ],
                "payment": "card",
            },
        }
        if rng.random() < 0.3:
            base["properties"]["coupon"] = "SPRING10"
    return base


def make_batches(n_events: int, batch: int, run: str, seed: int = 7) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    events = [make_event(rng, run, i, now_ms) for i in range(n_events)]
    return [events[i : i + batch] for i in range(0, n_events, batch)]


def encode_batches(batches: list[list[dict[str, Any]]]) -> list[bytes]:
    """``{"events": [...], "sent_at": ms}`` bodies, encoded once, ahead of any timing."""
    enc = msgspec.json.Encoder()
    sent_at = int(time.time() * 1000)
    return [enc.encode({"events": b, "sent_at": sent_at}) for b in batches]


def canonical(bodies: list[bytes]) -> list[list[Event]]:
    """The same canonical events the endpoint builds (decode, check, hash)."""
    settings = Settings()
    max_future = timedelta(seconds=settings.max_future_seconds)
    out = []
    for body in bodies:
        items, sent_at, _ = decode_body(body)
        origin = Origin(
            source="server",
            key_id="key_bench",
            trusted=True,
            ip="127.0.0.1",
            user_agent="bench",
            received_at=datetime.now(UTC),
        )
        events = [
            to_event(
                i,
                item,
                origin,
                sent_at,
                default_currency=settings.default_currency,
                max_future=max_future,
            )
            for i, item in enumerate(items)
        ]
        out.append([hash_identifiers(e) for e in events if isinstance(e, Event)])
    return out
