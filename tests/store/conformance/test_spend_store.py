"""Spend in the store: an import is an upsert on the spend key, and all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from convtrack.attribution.spend import spend_query
from convtrack.errors import ConvtrackError
from convtrack.store import EventStore
from convtrack.store.base import SpendRow
from convtrack.store.process import StoreProcess

D1, D2 = date(2024, 5, 5), date(2024, 5, 6)  # a Sunday and the Monday after it
ROWS = [
    SpendRow(D1, "google_ads", "Paid Search", "brand", Decimal("10.5"), "EUR", 100, 7),
    SpendRow(D1, "google_ads", "Paid Search", "", Decimal("1"), "EUR"),
    SpendRow(D2, "meta", "Paid Social", "brand", Decimal("0.000001"), "USD", 0, 0),
]


def stored(store: EventStore) -> list[tuple[object, ...]]:
    return store.query(
        "SELECT day, platform, channel, campaign, spend, currency, impressions, clicks, source"
        " FROM spend ORDER BY day, platform, channel, campaign, currency"
    ).rows


def test_import_twice_replaces_and_never_double_counts(store: EventStore) -> None:
    assert store.upsert_spend(ROWS, "may.csv") == {"inserted": 3, "replaced": 0}
    first = stored(store)
    assert store.upsert_spend(ROWS, "may.csv") == {"inserted": 0, "replaced": 3}
    assert stored(store) == first
    total = store.query("SELECT SUM(spend) FROM spend WHERE currency = 'EUR'").rows
    assert total == [(Decimal("11.5"),)]


def test_replacing_takes_the_new_values_and_source(store: EventStore) -> None:
    store.upsert_spend(ROWS, "v1.csv")
    changed = [replace(ROWS[0], spend=Decimal("99"), impressions=None, clicks=1)]
    new = [replace(ROWS[0], campaign="generic")]
    assert store.upsert_spend(changed + new, "v2.csv") == {"inserted": 1, "replaced": 1}
    rows = {(r[3], r[5]): r for r in stored(store) if r[0] == D1}
    assert rows[("brand", "EUR")][4:] == (Decimal("99"), "EUR", None, 1, "v2.csv")
    assert rows[("", "EUR")][-1] == "v1.csv"  # untouched
    assert rows[("generic", "EUR")][-1] == "v2.csv"


def test_the_same_key_in_another_currency_is_another_row(store: EventStore) -> None:
    store.upsert_spend(ROWS, "a.csv")
    assert store.upsert_spend([replace(ROWS[0], currency="USD")], "b.csv")["inserted"] == 1


def test_a_bad_row_stores_nothing(store: EventStore) -> None:
    store.upsert_spend(ROWS[:1], "ok.csv")
    before = stored(store)
    broken = [replace(ROWS[1], spend=Decimal(5)), replace(ROWS[2], spend=Decimal(-1))]
    with pytest.raises(ConvtrackError) as caught:
        store.upsert_spend(broken, "bad.csv")
    assert caught.value.code == "invalid_spend"
    assert stored(store) == before
    assert store.upsert_spend(ROWS[1:], "ok.csv") == {"inserted": 2, "replaced": 0}  # usable


def test_duplicate_keys_in_one_import_are_refused(store: EventStore) -> None:
    with pytest.raises(ConvtrackError, match="rows 0 and 2") as caught:
        store.upsert_spend([ROWS[0], ROWS[1], replace(ROWS[0], spend=Decimal(1))], "dup.csv")
    assert caught.value.code == "duplicate_spend_key"
    assert stored(store) == []


def test_spend_survives_reopening(open_migrated: Callable[[], EventStore]) -> None:
    store = open_migrated()
    store.upsert_spend(ROWS, "may.csv")
    store.close()
    assert len(stored(open_migrated())) == 3


def test_spend_query_runs_on_the_store(store: EventStore) -> None:
    store.upsert_spend(ROWS, "may.csv")
    weekly = store.query(*spend_query(None, None, ["platform"], "week"))
    assert weekly.columns == ["week", "platform", "currency", "spend", "impressions", "clicks"]
    assert weekly.rows == [
        (date(2024, 4, 29), "google_ads", "EUR", Decimal("11.5"), 100, 7),
        (date(2024, 5, 6), "meta", "USD", Decimal("0.000001"), 0, 0),
    ]
    only_d2 = store.query(*spend_query(D2, date(2024, 5, 7), [], None))
    assert only_d2.rows == [("USD", Decimal("0.000001"), 0, 0)]
    assert store.query(*spend_query(D1, D2, ["campaign"], "day")).rows == [
        (D1, "", "EUR", Decimal(1), None, None),
        (D1, "brand", "EUR", Decimal("10.5"), 100, 7),
    ]


def test_through_the_store_process(store_url: str) -> None:
    proc = StoreProcess(store_url, {"interval": 0.002}, queue_max_events=100)
    try:
        proc.store.migrate()
        assert proc.store.upsert_spend(ROWS, "may.csv") == {"inserted": 3, "replaced": 0}
        assert proc.store.upsert_spend(ROWS[:1], "may.csv") == {"inserted": 0, "replaced": 1}
        with pytest.raises(ConvtrackError) as caught:
            proc.store.upsert_spend([ROWS[0], ROWS[0]], "dup.csv")
        assert caught.value.code == "duplicate_spend_key"
        assert proc.store.query("SELECT count(*) FROM spend").rows == [(3,)]
    finally:
        proc.stop()
