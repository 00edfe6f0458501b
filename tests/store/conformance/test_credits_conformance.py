"""``conversion_credits`` written by the attribution engine, on every engine: the credit SQL
runs in the store (with the store's dialect), rows sum to one, a re-save replaces them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from convtrack.attribution.dialect import dialect_of
from convtrack.attribution.engine import Request, save_credits
from convtrack.attribution.model import create, registered
from convtrack.store import EventStore
from journey_data import T0, Journeys, days, plan


@pytest.fixture
def credits_store(store_url: str, tmp_path: Path) -> Iterator[EventStore]:
    j = Journeys()
    j.page("a", T0 - days(10), "/p", referrer="https://www.google.com/", gclid="G1")
    j.page("a", T0 - days(5), fbclid="F1", utm_source="facebook", utm_medium="paid_social",
           utm_campaign="spring", utm_content="video_a")  # fmt: skip
    j.page("a", T0 - days(2))
    j.convert("a", T0, value=90, order_id="o1")
    j.convert("b", T0, name="generate_lead")  # no touch: one synthetic direct touch
    j.page("n", T0 - days(3), gclid="G2")  # a journey that never converts
    store = j.store(tmp_path, url=store_url)
    yield store
    store.close()


def request(store: EventStore, *names: str, **kw: Any) -> Request:
    return Request([create(n) for n in names], dialect=dialect_of(store), **kw)


def rows(store: EventStore, sql: str) -> list[tuple[Any, ...]]:
    return store.query(sql).rows


def test_every_model_writes_credits_that_sum_to_one(credits_store: EventStore) -> None:
    names = sorted(registered())
    written = save_credits(credits_store, plan(), request(credits_store, *names))
    assert written == len(names) * (3 + 1)  # three touches for a, the synthetic one for b
    sums = rows(credits_store, "SELECT model, conversion, sum(credit), sum(value_credit) "
                               "FROM conversion_credits GROUP BY 1, 2 ORDER BY 1, 2")  # fmt: skip
    assert len(sums) == 2 * len(names)
    for model, conversion, credit, value in sums:
        assert credit == pytest.approx(1.0), model
        assert value == (pytest.approx(90.0) if conversion == "purchase" else None)


def test_rows_name_the_touch(credits_store: EventStore) -> None:
    save_credits(credits_store, plan(), request(credits_store, "first_touch", "last_touch"))
    got = rows(credits_store, "SELECT model, position, touches, kind, channel, source, medium, "
                              "campaign, ad, credit FROM conversion_credits WHERE conversion = "
                              "'purchase' AND credit > 0 ORDER BY model")  # fmt: skip
    assert got == [
        ("first_touch", 0, 3, "click", "Paid Search", "google", "cpc", "(not set)",
         "(not set)", 1.0),
        ("last_touch", 2, 3, "click", "Direct", "(direct)", "(none)", "(not set)",
         "(not set)", 1.0),
    ]  # fmt: skip
    touch_at = rows(credits_store, "SELECT touch_at FROM conversion_credits WHERE "
                                   "model = 'first_touch' AND position = 0 "
                                   "AND conversion = 'purchase'")  # fmt: skip
    assert touch_at[0][0] == T0 - days(10)
    lead = "SELECT touch_id, touch_at, kind, channel FROM conversion_credits WHERE "
    synthetic = rows(credits_store, lead + "conversion = 'lead' LIMIT 1")
    assert synthetic == [(None, None, "none", "Direct")]


def test_saving_again_replaces_the_models_rows_in_the_range(credits_store: EventStore) -> None:
    save_credits(credits_store, plan(), request(credits_store, "linear", "markov"))
    save_credits(credits_store, plan(), request(credits_store, "linear"))
    later = date(2030, 1, 1)  # a range with no conversions deletes nothing before it
    save_credits(credits_store, plan(), request(credits_store, "markov", start=later))
    counts = rows(
        credits_store, "SELECT model, count(*) FROM conversion_credits GROUP BY 1 ORDER BY 1"
    )
    assert counts == [("linear", 4), ("markov", 4)]
