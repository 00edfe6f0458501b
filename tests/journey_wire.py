"""The hand-made journeys of the attribution tests in wire form, for a live server: the same
three visitors feed tests/e2e/test_attribution.py and the dashboard's browser tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from live_server import make_event, new_id

T0 = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
SITE = "https://shop.example.com"


def at(days_before: float) -> str:
    return (T0 - timedelta(days=days_before)).isoformat()


def journey_events() -> list[dict[str, Any]]:
    """Person p1: Paid Search 10 days out, Email 3 days out, purchase 120 USD.
    Person p2: Organic Search, purchase 30 USD. Person p3: Paid Search, no conversion."""
    out = []
    for person, steps in {
        "p1": [(10, {"gclid": "G1"}, "https://www.google.com/"),
               (3, {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "may"},
                None)],
        "p2": [(1, None, "https://www.bing.com/")],
        "p3": [(2, {"gclid": "G3"}, None)],
    }.items():  # fmt: skip
        for days, campaign, referrer in steps:
            context = {"url": SITE + "/", "referrer": referrer}
            event = make_event(type="page", event_name="page_view", anonymous_id=person,
                               timestamp=at(days), context=context)  # fmt: skip
            if campaign:
                event["campaign"] = {**campaign, "click_at": at(days)}
            out.append(event)
    for person, value in (("p1", 120), ("p2", 30)):
        out.append(make_event(event_name="purchase", type="conversion", anonymous_id=person,
                              timestamp=at(0), order_id=new_id("o"), value=value,
                              currency="USD"))  # fmt: skip
    return out
