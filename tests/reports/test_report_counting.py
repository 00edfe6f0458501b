"""Counting rules computed by hand on small data (``reports.counting``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from report_plan import compiled

from convtrack.reports.counting import Candidate, Hit, Window, count_hits

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def ev(event_id: str, name: str, minutes: int = 0, **fields: Any) -> Candidate:
    props = fields.pop("properties", {})
    return Candidate(event_id, name, T0 + timedelta(minutes=minutes), properties=props, **fields)


def hits(events: list[Candidate], window: Window | None = None) -> list[Hit]:
    return list(count_hits(events, compiled(), window or Window(), "GBP"))


def test_one_order_sent_three_times_counts_once() -> None:
    order = {"order_id": "o-1", "value": 40.0, "currency": "EUR"}
    events = [
        ev("browser-1", "purchase", 0, properties=order),
        ev("server-1", "Order Completed", 1, properties=order),  # an alias, another event_id
        ev("retry-1", "purchase", 5, properties=order),
    ]
    found = hits(events)
    assert [(h.conversion.name, h.value, h.currency) for h in found] == [
        ("purchase", Decimal("40.0"), "EUR")
    ]


def test_two_orders_count_twice_and_orders_without_id_count_each() -> None:
    events = [
        ev("a", "purchase", 0, properties={"order_id": "o-1", "value": 10}),
        ev("b", "purchase", 1, properties={"order_id": "o-2", "value": 20}),
        ev("c", "purchase", 2, properties={"value": 1}),
        ev("d", "purchase", 3, properties={"value": 1}),
    ]
    assert sum(h.value or 0 for h in hits(events)) == Decimal(32)
    assert len(hits(events)) == 4


def test_a_person_converting_twice_counts_once_by_user_id_else_anonymous_id() -> None:
    events = [
        ev("l1", "generate_lead", 0, user_id="u1", anonymous_id="a1"),
        ev("l2", "generate_lead", 9, user_id="u1", anonymous_id="a2"),  # same user
        ev("l3", "generate_lead", 1, anonymous_id="a3"),
        ev("l4", "generate_lead", 2, anonymous_id="a3"),  # same anonymous visitor
        ev("l5", "generate_lead", 3),  # nobody known: counts on its own
        ev("l6", "generate_lead", 4),
    ]
    found = hits(events)
    assert sorted(h.conversion.name for h in found) == ["lead"] * 4
    assert all(h.value is None and h.currency is None for h in found)  # no value rule


def test_every_counts_each_stored_event() -> None:
    events = [ev(f"f{i}", "form_submit", i, anonymous_id="same") for i in range(3)]
    assert len(hits(events)) == 3


def test_filters_fixed_value_and_currencies() -> None:
    events = [
        ev("s1", "subscribe", 0, properties={"order_id": "s-1", "value": 9.5}),
        ev("s2", "subscribe", 1, properties={"order_id": "s-2", "value": 9.5, "renewal": True}),
        ev("p1", "purchase", 2, properties={"order_id": "o", "value": 3, "currency": "SEK"}),
    ]
    found = {h.conversion.name: (h.value, h.currency) for h in hits(events)}
    assert found == {
        "subscription": (Decimal("9.5"), "EUR"),  # the plan's default currency
        "renewal": (Decimal(5), "USD"),  # fixed value, the conversion's own currency
        "purchase": (Decimal(3), "SEK"),  # the event's currency
    }


def test_the_first_occurrence_counts_even_before_the_window() -> None:
    order = {"order_id": "o-1", "value": 40.0}
    events = [
        ev("late", "purchase", 60 * 24, properties=order),  # 2024-05-02
        ev("early", "purchase", 0, properties=order),  # 2024-05-01: this one counts
        ev("other", "purchase", 60 * 24, properties={"order_id": "o-2", "value": 1.0}),
    ]
    may_2 = Window(date(2024, 5, 2), date(2024, 5, 3))
    assert [h.value for h in hits(events, may_2)] == [Decimal("1.0")]
    assert [h.day for h in hits(events, Window(date(2024, 5, 1), date(2024, 5, 2)))] == [
        date(2024, 5, 1)
    ]


def test_window_is_half_open_in_utc_days() -> None:
    midnight = datetime(2024, 5, 2, tzinfo=UTC)
    events = [
        Candidate("before", "form_submit", midnight - timedelta(microseconds=1)),
        Candidate("at", "form_submit", midnight),
        Candidate("last", "form_submit", datetime(2024, 5, 2, 23, 59, 59, tzinfo=UTC)),
        Candidate("next", "form_submit", datetime(2024, 5, 3, tzinfo=UTC)),
    ]
    found = hits(events, Window(date(2024, 5, 2), date(2024, 5, 3)))
    assert [h.day for h in found] == [date(2024, 5, 2), date(2024, 5, 2)]
