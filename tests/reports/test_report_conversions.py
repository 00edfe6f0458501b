"""The report's rows by name, category and day, computed by hand on small data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from report_plan import compiled

from convtrack.reports.conversions import By, conversions_report
from convtrack.reports.counting import Candidate, Window

DAY1 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def ev(event_id: str, name: str, at: datetime, **props: Any) -> Candidate:
    return Candidate(event_id, name, at, anonymous_id="a-" + event_id, properties=props)


# Day 1: order o-1 three times (browser, server alias, retry) = 1 purchase 40 EUR;
#        order o-2 in USD = 1 purchase 10 USD; a new subscription s-1 12 EUR (sent twice).
# Day 2: two renewals (every, fixed 5 USD) and order o-1 again (already counted on day 1).
EVENTS = [
    ev("b1", "purchase", DAY1, order_id="o-1", value=40, currency="EUR"),
    ev("s1", "Order Completed", DAY1, order_id="o-1", value=40, currency="EUR"),
    ev("r1", "purchase", DAY1 + timedelta(hours=1), order_id="o-1", value=40, currency="EUR"),
    ev("b2", "purchase", DAY1, order_id="o-2", value=10, currency="USD"),
    ev("sub1", "subscribe", DAY1, order_id="s-1", value=12),
    ev("sub1b", "subscribe", DAY1, order_id="s-1", value=12),
    ev("ren1", "subscribe", DAY2, order_id="s-1r1", renewal=True),
    ev("ren2", "subscribe", DAY2, order_id="s-1r2", renewal=True),
    ev("late", "purchase", DAY2, order_id="o-1", value=40, currency="EUR"),
]


def rows(by: By, window: Window | None = None) -> list[list[Any]]:
    return conversions_report(EVENTS, compiled(), by, window, "USD").rows


def test_by_name_one_row_per_conversion_and_currency() -> None:
    assert rows("name") == [
        ["purchase", "purchase", "once_per_order", "EUR", 1, 40.0],
        ["purchase", "purchase", "once_per_order", "USD", 1, 10.0],
        ["subscription", "purchase/subscription", "once_per_order", "EUR", 1, 12.0],
        ["renewal", "purchase/subscription/renewal", "every", "USD", 2, 10.0],
        ["lead", "lead", "once_per_person", None, 0, None],
        ["form", "lead/form", "every", None, 0, None],
    ]


def test_by_category_rolls_children_up_into_every_ancestor() -> None:
    assert rows("category") == [
        ["lead", 1, 2, None, 0, None],
        ["lead/form", 2, 1, None, 0, None],
        ["purchase", 1, 3, "EUR", 2, 52.0],  # 40 (o-1) + 12 (s-1)
        ["purchase", 1, 3, "USD", 3, 20.0],  # 10 (o-2) + 2 renewals x 5
        ["purchase/subscription", 2, 2, "EUR", 1, 12.0],
        ["purchase/subscription", 2, 2, "USD", 2, 10.0],
        ["purchase/subscription/renewal", 3, 1, "USD", 2, 10.0],
    ]


def test_by_day_in_utc() -> None:
    assert rows("day") == [
        ["2024-05-01", "purchase", "purchase", "EUR", 1, 40.0],
        ["2024-05-01", "purchase", "purchase", "USD", 1, 10.0],
        ["2024-05-01", "subscription", "purchase/subscription", "EUR", 1, 12.0],
        ["2024-05-02", "renewal", "purchase/subscription/renewal", "USD", 2, 10.0],
    ]


def test_a_range_keeps_orders_counted_before_it_out() -> None:
    day2 = Window(date(2024, 5, 2), date(2024, 5, 3))
    assert rows("day", day2) == [
        ["2024-05-02", "renewal", "purchase/subscription/renewal", "USD", 2, 10.0],
    ]
    purchase = [r for r in rows("category", day2) if r[0] == "purchase"]
    assert purchase == [["purchase", 1, 3, "USD", 2, 10.0]]
