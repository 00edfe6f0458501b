"""The report: spend matched per channel / campaign / bucket, CPA, ROAS, currencies, notes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from convtrack.attribution.service import Params, run_report
from convtrack.store import EventStore
from convtrack.store.base import SpendRow
from journey_data import T0, Journeys, days, plan


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    j = Journeys()
    j.page("a", T0 - days(3), gclid="G1", utm_campaign="brand")
    j.convert("a", T0, value=100, order_id="o1")
    j.page("b", T0 - days(2), fbclid="F1", utm_source="facebook", utm_medium="paid_social",
           utm_campaign="retargeting")  # fmt: skip
    j.convert("b", T0 - days(1), value=60, order_id="o2")
    j.convert("c", T0, name="generate_lead")
    s = j.store(tmp_path)
    d1, d2 = date(2024, 5, 19), date(2024, 5, 20)
    s.upsert_spend([
        SpendRow(d1, "google_ads", "Paid Search", "brand", Decimal("20"), "USD"),
        SpendRow(d2, "google_ads", "Paid Search", "brand", Decimal("30"), "USD"),
        SpendRow(d2, "meta", "Paid Social", "retargeting", Decimal("40"), "USD"),
        SpendRow(d2, "meta", "Paid Social", "retargeting", Decimal("99"), "EUR"),
        SpendRow(d2, "tiktok", "Paid Social", "launch", Decimal("10"), "USD"),
    ])  # fmt: skip
    yield s
    s.close()


def by_label(report: dict) -> dict[str, dict]:
    return {r["label"]: r for r in report["rows"]}


def test_spend_cpa_and_roas_by_channel(store: EventStore) -> None:
    report = run_report(store, plan(), Params(["last_touch"]), "USD").as_json()
    rows = by_label(report)
    money = {k: (r["spend"], r["cpa"], r["roas"]) for k, r in rows.items()}
    assert money["Paid Search"] == (50.0, 50.0, 2.0)  # 100 USD revenue on 20 + 30 USD
    assert money["Paid Social"] == (50.0, 50.0, 1.2)  # 60 USD on 40 (meta) + 10 (tiktok)
    assert rows["Direct"]["spend"] is None and rows["Direct"]["conversions"] == 1
    assert report["totals"] == {"conversions": 3, "spend": 100.0}
    assert any("EUR" in note for note in report["notes"])  # EUR spend is left out, said so


def test_spend_by_campaign_and_day(store: EventStore) -> None:
    params = Params(["last_touch"], level="campaign", grain="day")
    rows = run_report(store, plan(), params, "USD").as_json()["rows"]
    got = {(r["label"], r["bucket"]): (r["conversions"], r["spend"]) for r in rows}
    assert got == {
        ("brand", "2024-05-19"): (0.0, 20.0),  # spend without a conversion still shows
        ("brand", "2024-05-20"): (1.0, 30.0),
        ("retargeting", "2024-05-19"): (1.0, None),
        ("retargeting", "2024-05-20"): (0.0, 40.0),
        ("launch", "2024-05-20"): (0.0, 10.0),
        ("(not set)", "2024-05-20"): (1.0, None),
    }


def test_no_spend_at_other_levels(store: EventStore) -> None:
    report = run_report(store, plan(), Params(["linear"], level="medium"), "USD").as_json()
    assert all(r["spend"] is None for r in report["rows"])
    assert any("not by medium" in note for note in report["notes"])


def test_other_currencies_are_never_summed(store: EventStore) -> None:
    report = run_report(store, plan(), Params(["linear"], currency="EUR"), "USD").as_json()
    rows = by_label(report)
    assert rows["Paid Search"]["revenue"] == 0 and rows["Paid Search"]["revenue_other"] == {
        "USD": 100.0
    }
    assert rows["Paid Social"]["spend"] == 99.0
