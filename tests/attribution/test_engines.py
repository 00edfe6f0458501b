"""Attribution and reports on every engine: the same events in DuckDB and in PostgreSQL give
the same credits, paths, counts, reports and saved ``conversion_credits``.

A seeded generator writes a few hundred events (clicks with click ids and UTMs, referrals,
impressions, direct visits, logins joining two browsers, purchases with repeated orders,
leads) through ``Journeys.store`` into each engine; every comparison runs the production code
on both stores. The ``conversions_sql`` hand cases of test_conversions_sql run here again on
PostgreSQL (its ``run`` fixture, redefined below), each checked against ``count_hits``.
"""

from __future__ import annotations

import math
import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import test_conversions_sql as csql
from hypothesis import HealthCheck, given, settings

# The conversions_sql hand cases, collected again here with the PostgreSQL ``run`` below.
from test_conversions_sql import (  # noqa: F401
    test_big_integers_compare_exactly,
    test_comparisons_hold_for_numbers_only,
    test_eq_tells_booleans_strings_and_numbers_apart,
    test_exists_true_and_false,
    test_history_before_the_window_counts_for_once_rules_only,
    test_keys_with_special_characters_are_quoted,
    test_lifted_columns_override_properties,
    test_ne_and_not_in_hold_on_missing_and_null,
    test_once_per_order_counts_the_first_event_of_each_order,
    test_once_per_person_keys_on_user_then_anonymous_id,
    test_one_event_can_count_as_several_conversions,
    test_paths_walk_objects_and_arrays,
    test_value_and_currency_rules,
)

from convtrack.attribution.dialect import DUCKDB, dialect_of
from convtrack.attribution.dialect_pg import POSTGRES
from convtrack.attribution.engine import Credits, Request, attribute
from convtrack.attribution.model import create, registered
from convtrack.attribution.people import People, StitchedPeople
from convtrack.attribution.service import params_from, people_for, run_report, save_report_credits
from convtrack.attribution.touchpoints import LEVELS
from convtrack.events import Event
from convtrack.plan import CompiledPlan
from convtrack.reports.conversions import conversions_report
from convtrack.reports.conversions_query import load_candidates
from convtrack.reports.counting import Window
from convtrack.store import EventStore, open_store
from convtrack.store.base import SpendRow
from journey_data import T0, Journeys, days, plan
from pg import PgServer, start_server

ALL_MODELS = sorted(registered())
TOLERANCE = 1e-9


# -- stores -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_url(pg_server: PgServer) -> Callable[[], str]:
    """A new URL per call: one database for the module, a fresh schema each time."""
    dbname = pg_server.create_database()

    def fresh() -> str:
        schema = f"s_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server.url(dbname), autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        return pg_server.url(dbname, f"?options=-csearch_path%3D{schema}")

    return fresh


CHANNELS: list[dict[str, str]] = [
    {"gclid": "G", "utm_campaign": "brand"},
    {"gclid": "G", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "generic"},
    {"fbclid": "F", "utm_source": "facebook", "utm_medium": "paid_social",
     "utm_campaign": "retargeting", "utm_content": "carousel"},
    {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "may"},
    {"ttclid": "T", "utm_campaign": "launch", "utm_content": "video"},
    {"msclkid": "M"},
]  # fmt: skip
REFERRERS = [
    "https://www.google.com/", "https://news.example.org/a?b=1", "https://WWW.Bing.com",
    "android-app://com.reddit.frontpage/", "https://shop.example.com/other",
]  # fmt: skip


def dataset(seed: int = 9, people: int = 70) -> Journeys:
    """Journeys of ``people`` browsers around T0; every fifth pair of browsers logs in as
    one user (a cross-device journey once identities are stitched)."""
    rng = random.Random(seed)
    j = Journeys()
    for p in range(people):
        who = f"b{p:03d}"
        at = T0 - days(rng.uniform(0, 45))
        for _ in range(rng.randint(0, 6)):
            at += days(rng.choice([0.0005, 0.01, 0.5, 1, 3, 8]) * rng.random())
            roll = rng.random()
            if roll < 0.4:
                camp = dict(rng.choice(CHANNELS))
                for key in ("gclid", "fbclid", "ttclid", "msclkid"):
                    if key in camp:
                        camp[key] = f"{camp[key]}{p}"
                j.page(who, at, "/land", referrer=rng.choice([None, *REFERRERS]), **camp)
            elif roll < 0.6:
                j.page(who, at, "/read", referrer=rng.choice(REFERRERS))
            elif roll < 0.75:
                j.impression(who, at, utm_source="dsp", utm_medium="display",
                             utm_campaign=rng.choice(["prospecting", "launch"]))  # fmt: skip
            else:
                j.page(who, at, rng.choice(["/", "/p"]))
            if rng.random() < 0.3:
                value = rng.choice([None, 10.5, 99.99, 120.0, 0.3])
                order = rng.choice([f"o{p}", f"o{p}", "shared", None])
                j.convert(who, at + days(0.01), value=value, order_id=order)
            elif rng.random() < 0.15:
                j.convert(who, at + days(0.02), name="generate_lead")
        if p % 5 == 1:
            j.identify(who, T0 - days(50), f"u{p - 1}")
            j.identify(f"b{p - 1:03d}", T0 - days(50), f"u{p - 1}")
    # a hand-made cross-device journey: the click on one browser, the purchase on the other
    j.identify("phone", T0 - days(9), "alice")
    j.page("phone", T0 - days(8), "/land", fbclid="Fx", utm_source="facebook",
           utm_medium="paid_social", utm_campaign="retargeting")  # fmt: skip
    j.identify("laptop", T0 - days(2), "alice")
    j.convert("laptop", T0, value=50.0, order_id="alice-1")
    return j


SPEND = [
    SpendRow(date(2024, 5, d), platform, channel, campaign, Decimal(amount), cur)
    for d in (10, 14, 19, 20)
    for platform, channel, campaign, amount, cur in (
        ("google_ads", "Paid Search", "brand", "20.5", "USD"),
        ("meta", "Paid Social", "retargeting", "40", "USD"),
        ("meta", "Paid Social", "retargeting", "9.25", "EUR"),
        ("dsp", "Display", "prospecting", "12", "USD"),
    )
]  # fmt: skip


def load(url: str, stitch: bool) -> EventStore:
    """The data set (and spend) in the store at ``url``; ``stitch``: identities rebuilt."""
    with tempfile.TemporaryDirectory() as folder:
        store = dataset().store(Path(folder), stitch=False, url=url)
    store.upsert_spend(SPEND, "test")
    if stitch:
        store.rebuild_identity()
    return store


@pytest.fixture(scope="module", params=[False, True], ids=["browsers", "stitched"])
def pair(
    request: pytest.FixtureRequest, pg_url: Callable[[], str], tmp_path_factory: Any
) -> Iterator[dict[str, EventStore]]:
    """The same data in DuckDB and in PostgreSQL, stitched or not."""
    folder = tmp_path_factory.mktemp("engines")
    stores = {
        "duckdb": load(f"duckdb://{folder / 'store.duckdb'}", request.param),
        "postgresql": load(pg_url(), request.param),
    }
    yield stores
    for store in stores.values():
        store.close()


# -- comparing ----------------------------------------------------------------------------


def same(a: Any, b: Any, tol: float, where: str = "") -> None:
    """Equal structures; numbers equal within ``tol`` (absolute and relative)."""
    if isinstance(a, float | int | Decimal) and not isinstance(a, bool):
        assert isinstance(b, float | int | Decimal) and not isinstance(b, bool), where
        assert math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol), (where, a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), (where, a, b)
        for k in a:
            same(a[k], b[k], tol, f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, tol, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def _key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in row)


def canonical(credits: Credits) -> dict[str, Any]:
    """Credits with rows and paths in a fixed order (SQL returns groups in any order)."""
    out: dict[str, Any] = {
        "labels": credits.labels, "conversions": credits.conversions, "meta": credits.meta,
        "rows": sorted(credits.rows, key=lambda r: _key(r[:4])),
    }  # fmt: skip
    p = credits.paths
    if p is not None:
        rows = zip(p.paths, p.bucket, p.currency, p.real.tolist(), p.days.tolist(),
                   p.conversions.tolist(), p.value.tolist(), strict=True)  # fmt: skip
        out["paths"] = sorted(
            ((*r[:6], None if math.isnan(r[6]) else r[6]) for r in rows),
            key=lambda r: _key(r[:5]),
        )
    return out


def both(pair: dict[str, EventStore], run: Callable[[EventStore], Any]) -> list[Any]:
    return [run(pair["duckdb"]), run(pair["postgresql"])]


# -- the attribution engine ---------------------------------------------------------------


def test_the_dialect_follows_the_store(pair: dict[str, EventStore]) -> None:
    assert dialect_of(pair["duckdb"]) is DUCKDB
    assert dialect_of(pair["postgresql"]) is POSTGRES
    assert dialect_of(object()) is DUCKDB


@pytest.mark.parametrize("level", LEVELS)
def test_credits_and_paths_are_equal_at_every_level(
    pair: dict[str, EventStore], level: Any
) -> None:
    def run(store: EventStore) -> dict[str, Any]:
        models = [create(m) for m in ALL_MODELS]
        request = Request(models, level=level, dialect=dialect_of(store), people=people_for(store))
        return canonical(attribute(store, plan(), request))

    duck, pg = both(pair, run)
    assert duck["conversions"] > 30 and len(duck["labels"]) > 2  # the data set is not trivial
    assert {r[0] for r in duck["rows"]} == set(ALL_MODELS)
    same(duck, pg, TOLERANCE)


@pytest.mark.parametrize(
    ("grain", "start", "end"),
    [("day", None, None), ("week", date(2024, 5, 1), None), ("month", None, date(2024, 5, 20)),
     (None, date(2024, 4, 25), date(2024, 5, 21))],
)  # fmt: skip
def test_buckets_and_ranges_are_equal(
    pair: dict[str, EventStore], grain: Any, start: date | None, end: date | None
) -> None:
    def run(store: EventStore) -> dict[str, Any]:
        models = [create(m) for m in ALL_MODELS]
        request = Request(
            models, "campaign", start, end, grain, dialect=dialect_of(store),
            people=people_for(store),
        )  # fmt: skip
        return canonical(attribute(store, plan(), request))

    duck, pg = both(pair, run)
    assert duck["rows"]
    same(duck, pg, TOLERANCE)


@pytest.mark.parametrize(
    "query",
    [
        {"compare": ["1"]},
        {"compare": ["1"], "by": ["campaign"], "grain": ["week"], "currency": ["EUR"]},
        {"model": ["markov:order=2", "shapley", "time_decay:half_life_days=3"], "by": ["ad"]},
        {"model": ["last_non_direct"], "by": ["source_medium"], "from": ["2024-05-10"],
         "to": ["2024-05-21"], "grain": ["day"]},
    ],
)  # fmt: skip
def test_reports_are_equal(pair: dict[str, EventStore], query: dict[str, list[str]]) -> None:
    """``convtrack attribute``'s report: credits, paths, spend, CPA/ROAS and notes."""
    duck, pg = both(pair, lambda s: run_report(s, plan(), params_from(query), "USD").as_json())
    assert duck["rows"] and duck["paths"]
    # The report rounds money to cents: sums ending in half a cent may round either way
    # (the unrounded credits are compared to 1e-9 above).
    same(duck, pg, 0.01 + TOLERANCE)


def test_stitched_people_change_the_journeys_on_both(pair: dict[str, EventStore]) -> None:
    """Once identities are rebuilt, both engines follow stitched people, and that changes
    the credits (the phone's click reaches the laptop's purchase), the same way."""
    stitched = isinstance(people_for(pair["duckdb"]), StitchedPeople)

    def run(store: EventStore, people: People) -> dict[str, Any]:
        request = Request([create("first_touch")], "campaign", dialect=dialect_of(store),
                          people=people)  # fmt: skip
        return canonical(attribute(store, plan(), request))

    for store in pair.values():
        assert isinstance(people_for(store), StitchedPeople) is stitched
        by_browser, by_person = run(store, People()), run(store, StitchedPeople())
        try:
            same(by_browser["rows"], by_person["rows"], TOLERANCE)
            changed = False
        except AssertionError:
            changed = True
        assert changed is stitched


def test_saved_credits_are_equal(pair: dict[str, EventStore]) -> None:
    query = {"compare": ["1"], "from": ["2024-04-20"]}

    def run(store: EventStore) -> list[tuple[Any, ...]]:
        saved = save_report_credits(store, plan(), params_from(query), "USD")
        assert saved["rows"] > 0 and sorted(saved["models"]) == ALL_MODELS
        rows = store.query(
            "SELECT conversion_key, event_id, conversion, converted_at, model, touch_id, "
            "touch_at, kind, position, touches, channel, source, medium, campaign, ad, credit, "
            "value_credit, currency FROM conversion_credits"
        ).rows
        return sorted(rows, key=lambda r: _key(r[:8]))

    duck, pg = both(pair, run)
    assert len(duck) > 100
    same(duck, pg, TOLERANCE)
    for store in pair.values():  # credits of each conversion and model sum to one
        sums = store.query(
            "SELECT conversion_key, model, SUM(credit) FROM conversion_credits GROUP BY 1, 2"
        ).rows
        assert all(abs(float(s) - 1) < TOLERANCE for _, _, s in sums)


# -- the conversions report ---------------------------------------------------------------


@pytest.mark.parametrize("by", ["day", "category", "name"])
@pytest.mark.parametrize("window", [Window(), Window(date(2024, 5, 10), date(2024, 5, 21))])
def test_conversions_reports_are_equal(
    pair: dict[str, EventStore], by: Any, window: Window
) -> None:
    def run(store: EventStore) -> Any:
        report = conversions_report(load_candidates(store, plan(), window), plan(), by, window)
        return report.columns, sorted(report.rows, key=_key)

    duck, pg = both(pair, run)
    assert duck[1]
    same(duck, pg, TOLERANCE)


# -- conversions_sql's hand cases and its property, on PostgreSQL -------------------------


@pytest.fixture
def run(pg_url: Callable[[], str]) -> Iterator[Any]:
    """test_conversions_sql's ``run`` on PostgreSQL: SQL rows checked equal to count_hits
    on the candidates the same PostgreSQL store gives."""
    opened: list[EventStore] = []

    def runner(plan: CompiledPlan, events: list[Event], window: Window = csql.ALL) -> list[Any]:
        store = open_store(pg_url())
        opened.append(store)
        store.migrate()
        store.append(events)
        got = csql.sql_rows(store, plan, window, "GBP")
        assert got == csql.python_rows(store, plan, window, "GBP")
        return got

    yield runner
    for store in opened:
        store.close()


@pytest.fixture(scope="module")
def pg_store(pg_url: Callable[[], str]) -> Iterator[EventStore]:
    store = open_store(pg_url())
    store.migrate()
    yield store
    store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=csql.scenarios())
def test_sql_counts_what_count_hits_counts_on_postgresql(
    pg_store: EventStore, scenario: tuple[CompiledPlan, list[Event], Window]
) -> None:
    """jsonb keeps numbers as ``numeric`` (``1e+16`` reads back as an integer), so the
    Python rules run on what PostgreSQL gives back, like the conversions report does."""
    plan_, stored, window = scenario
    with psycopg.connect(pg_store.url, autocommit=True) as con:  # type: ignore[attr-defined]
        con.execute("TRUNCATE events")
    pg_store.append(stored)
    expected = csql.python_rows(pg_store, plan_, window, "GBP")
    assert csql.sql_rows(pg_store, plan_, window, "GBP") == expected


def test_float_text_is_pythons_repr(pg_store: EventStore) -> None:
    values = [5.0, -0.0, 0.1, 1e15, 1e15 + 0.5, 123456789012345.0, 9.999999999999998e15,
              1e16, 1.5e-7, 0.0001, -2.5e300, 2.0**53]  # fmt: skip
    rows = ", ".join(f"({i}, CAST(? AS DOUBLE PRECISION))" for i in range(len(values)))
    sql = f"SELECT {POSTGRES.float_text('x')} FROM (VALUES {rows}) AS v(i, x) ORDER BY i"  # noqa: S608
    got = [r[0] for r in pg_store.query(sql, values).rows]
    assert got == [repr(v) for v in values]


def test_pointer_parts_are_not_array_offsets(pg_store: EventStore) -> None:
    doc = '{"a": [10, 20, 30], "b": {"-1": "k", "01": "z"}}'
    cases = {("a", "1"): "20", ("a", "-1"): None, ("a", "+1"): None, ("a", " 1"): None,
             ("b", "-1"): "k", ("b", "01"): "z", ("a", "01"): None}  # fmt: skip
    for parts, want in cases.items():
        sql = f"SELECT {POSTGRES.json_text('d', parts)} FROM (SELECT CAST(? AS jsonb) AS d) AS t"  # noqa: S608
        assert pg_store.query(sql, [doc]).rows[0][0] == want, parts
