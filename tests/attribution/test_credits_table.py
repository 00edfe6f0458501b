"""``conversion_credits``: one row per conversion × touch × model, replaced on re-save."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convtrack.attribution.engine import Request, save_credits
from convtrack.attribution.model import create, registered
from convtrack.store import EventStore
from journey_data import T0, Journeys, days, plan


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    j = Journeys()
    j.page("a", T0 - days(10), "/p", referrer="https://www.google.com/", gclid="G1")
    j.page("a", T0 - days(5), fbclid="F1", utm_source="facebook", utm_medium="paid_social",
           utm_campaign="spring", utm_content="video_a")  # fmt: skip
    j.page("a", T0 - days(2))
    j.convert("a", T0, value=90, order_id="o1")
    j.convert("b", T0, name="generate_lead")  # no touch: one synthetic direct touch
    j.page("n", T0 - days(3), gclid="G2")  # a journey that never converts
    s = j.store(tmp_path)
    yield s
    s.close()


def rows(store: EventStore, sql: str) -> list[tuple]:
    return store.query(sql).rows


def test_every_model_writes_credits_that_sum_to_one(store: EventStore) -> None:
    models = [create(name) for name in registered()]
    written = save_credits(store, plan(), Request(models))
    assert written == len(models) * (3 + 1)  # three touches for a, the synthetic one for b
    sums = rows(store, "SELECT model, conversion, sum(credit), sum(value_credit) "
                       "FROM conversion_credits GROUP BY ALL ORDER BY ALL")  # fmt: skip
    for model, conversion, credit, value in sums:
        assert credit == pytest.approx(1.0), model
        assert value == (pytest.approx(90.0) if conversion == "purchase" else None)


def test_rows_name_the_touch_at_every_level(store: EventStore) -> None:
    save_credits(store, plan(), Request([create("first_touch"), create("last_touch")]))
    got = rows(store, "SELECT model, position, touches, kind, channel, source, medium, campaign, "
                      "ad, credit FROM conversion_credits WHERE conversion = 'purchase' "
                      "AND credit > 0 ORDER BY model")  # fmt: skip
    assert got == [
        ("first_touch", 0, 3, "click", "Paid Search", "google", "cpc", "(not set)",
         "(not set)", 1.0),
        ("last_touch", 2, 3, "click", "Direct", "(direct)", "(none)", "(not set)",
         "(not set)", 1.0),
    ]  # fmt: skip
    synthetic = rows(store, "SELECT touch_id, touch_at, kind, channel FROM conversion_credits "
                            "WHERE conversion = 'lead' LIMIT 1")  # fmt: skip
    assert synthetic == [(None, None, "none", "Direct")]


def test_saving_again_replaces_the_models_rows(store: EventStore) -> None:
    save_credits(store, plan(), Request([create("linear"), create("markov")]))
    save_credits(store, plan(), Request([create("linear")]))
    counts = rows(store, "SELECT model, count(*) FROM conversion_credits GROUP BY 1 ORDER BY 1")
    assert counts == [("linear", 4), ("markov", 4)]
