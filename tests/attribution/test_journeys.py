"""Touchpoints, windows and rule-based credits on hand-made journeys in a real DuckDB store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from convtrack.attribution.engine import Request, attribute
from convtrack.attribution.model import create
from convtrack.events import Campaign
from convtrack.store import EventStore
from journey_data import T0, Journeys, days, plan

RULES = ["first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"]


def credits(store: EventStore, models: list[str], level: str = "channel", **kw: Any) -> dict:
    request = Request([create(m) for m in models], level=level, **kw)  # type: ignore[arg-type]
    result = attribute(store, plan(), request)
    out: dict[str, dict[str, float]] = {}
    for model, label, _bucket, _cur, count, _value in result.rows:
        out.setdefault(model, {})
        out[model][label] = round(out[model].get(label, 0.0) + count, 9)
    return out


@pytest.fixture
def three_touches(tmp_path: Path) -> Iterator[EventStore]:
    """Paid Search (-10 d), Paid Social (-5 d), Direct (-2 d) before a purchase; an email
    touch 40 days before is outside the 30-day click window."""
    j = Journeys()
    j.page("a", T0 - days(40), utm_source="newsletter", utm_medium="email", utm_campaign="may")
    j.page("a", T0 - days(10), "/p", referrer="https://www.google.com/", gclid="G1")
    j.page("a", T0 - days(10) + days(0.001), "/cart", referrer="https://shop.example.com/p")
    j.page("a", T0 - days(5), fbclid="F1", utm_source="facebook", utm_medium="paid_social")
    j.page("a", T0 - days(2))
    j.convert("a", T0, value=100, order_id="o1")
    store = j.store(tmp_path)
    yield store
    store.close()


def test_rule_based_models_on_three_touches(three_touches: EventStore) -> None:
    got = credits(three_touches, RULES)
    assert got["first_touch"] == {"Paid Search": 1.0}
    assert got["last_touch"] == {"Direct": 1.0}
    assert got["last_non_direct"] == {"Paid Social": 1.0}
    assert got["linear"] == pytest.approx(
        {"Paid Search": 1 / 3, "Paid Social": 1 / 3, "Direct": 1 / 3}
    )
    w = [0.5 ** (10 / 7), 0.5 ** (5 / 7), 0.5 ** (2 / 7)]
    expect = dict(
        zip(["Paid Search", "Paid Social", "Direct"], [x / sum(w) for x in w], strict=True)
    )
    assert got["time_decay"] == pytest.approx(expect)
    assert got["position_based"] == pytest.approx(
        {"Paid Search": 0.4, "Paid Social": 0.2, "Direct": 0.4}
    )


def test_value_is_credited_like_the_conversion(three_touches: EventStore) -> None:
    result = attribute(three_touches, plan(), Request([create("linear")]))
    values = {label: value for _m, label, _b, cur, _c, value in result.rows}
    assert values == pytest.approx(
        {"Paid Search": 100 / 3, "Paid Social": 100 / 3, "Direct": 100 / 3}
    )
    assert {cur for *_, cur, _c, _v in result.rows} == {"USD"}


def test_levels(three_touches: EventStore) -> None:
    assert credits(three_touches, ["first_touch"], "source_medium")["first_touch"] == {
        "google / cpc": 1.0
    }
    assert credits(three_touches, ["linear"], "campaign")["linear"] == pytest.approx(
        {"(not set)": 1.0}
    )


def test_report_range_selects_conversions_not_touches(three_touches: EventStore) -> None:
    assert credits(three_touches, ["linear"], start=date(2024, 5, 21)) == {}
    got = credits(three_touches, ["first_touch"], start=date(2024, 5, 20), end=date(2024, 5, 21))
    assert got == {"first_touch": {"Paid Search": 1.0}}  # its touches are older than --from


def test_views_count_only_inside_the_view_window(tmp_path: Path) -> None:
    j = Journeys()
    j.impression("v", T0 - days(3), utm_source="dsp", utm_medium="display")  # too old
    j.impression("v", T0 - days(0.5), utm_source="dsp", utm_medium="display")
    j.page("v", T0 - days(4), referrer="https://www.bing.com/search?q=tent")
    j.convert("v", T0, value=10, order_id="o1")
    # The lead's view window is 0 days: its impression never counts.
    j.impression("w", T0 - days(0.1), utm_source="dsp", utm_medium="display")
    j.convert("w", T0, name="generate_lead")
    with j.store(tmp_path) as store:
        got = credits(store, ["linear"])["linear"]
    assert got == pytest.approx({"Display": 0.5, "Organic Search": 0.5, "Direct": 1.0})


def test_a_conversion_without_touches_gets_one_direct_touch(tmp_path: Path) -> None:
    j = Journeys()
    j.convert("x", T0, name="generate_lead")
    with j.store(tmp_path) as store:
        assert credits(store, RULES) == {m: {"Direct": 1.0} for m in RULES}


def test_one_landing_carried_by_many_events_is_one_touch(tmp_path: Path) -> None:
    j = Journeys()
    landing = T0 - days(3)
    j.page("c", landing, "/p", referrer="https://l.facebook.com/", fbclid="F9",
           utm_source="facebook", utm_medium="paid_social")  # fmt: skip
    for k in range(3):  # later pages of the visit remember the landing (same click_at)
        at = landing + days(0.001 * (k + 1))
        j.page("c", at, "/q", referrer="https://shop.example.com/p", click_at=landing,
               fbclid="F9", utm_source="facebook", utm_medium="paid_social")  # fmt: skip
    remembered = Campaign(fbclid="F9", utm_source="facebook", utm_medium="paid_social",
                          click_at=landing)  # fmt: skip
    j.convert("c", T0, value=5, order_id="o9", campaign=remembered)
    with j.store(tmp_path) as store:
        got = credits(store, ["linear"])
    assert got == {"linear": {"Paid Social": 1.0}}


def test_a_new_visit_with_an_old_click_remembered_is_a_new_touch(tmp_path: Path) -> None:
    j = Journeys()
    landing = T0 - days(6)
    j.page("d", landing, gclid="G7")
    # Three days later: a visit from an organic search; the tag still carries the click.
    j.page("d", T0 - days(3), referrer="https://duckduckgo.com/", click_at=landing, gclid="G7")
    j.convert("d", T0, value=1, order_id="o7", campaign=Campaign(gclid="G7", click_at=landing))
    with j.store(tmp_path) as store:
        got = credits(store, ["first_touch", "last_touch"])
    assert got == {"first_touch": {"Paid Search": 1.0}, "last_touch": {"Organic Search": 1.0}}


def test_repeats_inside_one_visit_collapse(tmp_path: Path) -> None:
    j = Journeys()
    j.page("r", T0 - days(1))  # direct
    j.page("r", T0 - days(1) + days(0.01))  # direct again 14 minutes later: same visit
    j.page("r", T0 - days(0.5))  # direct, hours later: a new visit
    j.convert("r", T0, name="generate_lead")
    with j.store(tmp_path) as store:
        result = attribute(store, plan(), Request([create("linear")]))
    assert result.paths is not None and result.paths.real.tolist() == [2]


def test_last_non_direct_falls_back_to_the_last_touch(tmp_path: Path) -> None:
    j = Journeys()
    j.page("z", T0 - days(2))
    j.page("z", T0 - days(1))
    j.convert("z", T0, name="generate_lead")
    with j.store(tmp_path) as store:
        assert credits(store, ["last_non_direct"]) == {"last_non_direct": {"Direct": 1.0}}


def test_credits_sum_to_one_per_conversion_for_every_model(three_touches: EventStore) -> None:
    got = credits(three_touches, RULES + ["markov", "shapley"])
    for model, by_label in got.items():
        assert sum(by_label.values()) == pytest.approx(1.0), model
