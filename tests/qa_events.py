"""Stored events for the QA tests (tests/qa/): a compact constructor, and one visit of a
consented or consented-out visitor as the consent gate stores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from convtrack.events import Campaign, Context, Event


def ev(event_id: str, at: datetime, **fields: Any) -> Event:
    values: dict[str, Any] = {"event_name": "page_view", "type": "page", "source": "tag"}
    return Event(
        event_id=event_id,
        received_at=at,
        occurred_at=at - timedelta(seconds=1),
        **(values | fields),
    )


T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SITE = "https://shop.example.com/"
FULL = {"analytics": "full"}
PSEUDO = {"analytics": "pseudonymous"}


def visit(n: int, consented: bool, converts: bool, source: str | None) -> list[object]:
    at = T0 + timedelta(minutes=n)
    campaign = Campaign(utm_source=source, utm_medium="cpc") if source else Campaign()
    session = f"s{n}" if consented else None
    decision = FULL if consented else PSEUDO
    out = [
        ev(f"v{n}", at, session_id=session, campaign=campaign, consent_decision=decision,
           context=Context(url=SITE + "?x=1", referrer="https://www.google.com/")),
        ev(f"i{n}", at, session_id=session, consent_decision=decision,
           context=Context(url=SITE + "p", referrer=SITE)),  # an inner page: not a visit
    ]  # fmt: skip
    if converts:
        out.append(
            ev(f"c{n}", at + timedelta(seconds=30), type="conversion", event_name="purchase",
               session_id=session, consent_decision=decision)
        )  # fmt: skip
    return out
