"""``conversions_sql`` on a real DuckDB store: hand cases for every condition and counting
rule, and a property test that it always agrees with ``count_hits`` (the Python rules)."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convtrack.attribution.conversions_sql import KEY_SEP, conversions_sql
from convtrack.attribution.dialect import DUCKDB, dialect_of
from convtrack.errors import ConvtrackError
from convtrack.events import Event
from convtrack.plan import CompiledPlan, compile_plan
from convtrack.plan.events_view import plan_properties
from convtrack.plan.model import Plan
from convtrack.reports.conversions_query import load_candidates
from convtrack.reports.counting import Window, count_hits, utc_day
from convtrack.store import EventStore, open_store

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
EVENTS = [
    {"name": "purchase", "aliases": ["Order Completed", "buy"]},
    {"name": "signup", "aliases": ["register"]},
]
Row = tuple[str, str, date, float | None, str | None]  # conversion, event_id, day, value, cur
ALL = Window()


def make_plan(*conversions: dict[str, Any], default_currency: str | None = None) -> CompiledPlan:
    convs = [{"category": "c", **c} for c in conversions]
    raw = {"version": "t", "events": EVENTS, "conversions": convs}
    if default_currency:
        raw["default_currency"] = default_currency
    return compile_plan(msgspec.convert(raw, Plan))


def ev(event_id: str, name: str = "purchase", minutes: float = 0, **fields: Any) -> Event:
    at = T0 + timedelta(minutes=minutes)
    return Event(
        event_id=event_id, event_name=name, type="track", source="server",
        occurred_at=at, received_at=at, **fields,
    )  # fmt: skip


def fresh_store(folder: Path, events: list[Event]) -> EventStore:
    store = open_store(f"duckdb://{folder / 'store.duckdb'}")
    store.migrate()
    store.append(events)
    return store


def sql_rows(store: EventStore, plan: CompiledPlan, window: Window, cur: str) -> list[Row]:
    query = conversions_sql(plan, window, dialect_of(store), cur)
    if query is None:
        return []
    result = store.query(*query)
    rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
    for r in rows:  # the key is unique and made of the event id and the name
        assert r["conversion_key"] == r["event_id"] + KEY_SEP + r["conversion"]
    assert len({r["conversion_key"] for r in rows}) == len(rows)
    return sorted(
        (r["conversion"], r["event_id"], utc_day(r["occurred_at"]), r["value"], r["currency"])
        for r in rows
    )


class _Tagged(dict[str, Any]):
    """Candidate properties that remember their event (``Hit`` does not carry it)."""

    event_id = ""


class _Spy:
    """The plan as ``count_hits`` uses it, noting which event it last looked at: hits are
    yielded right after their event's ``conversions_for``."""

    def __init__(self, plan: CompiledPlan) -> None:
        self.plan, self.compiled, self.last = plan.plan, plan, ""

    def conversions_for(self, name: str, properties: _Tagged) -> list[Any]:
        self.last = properties.event_id
        return self.compiled.conversions_for(name, properties)


def python_rows(store: EventStore, plan: CompiledPlan, window: Window, cur: str) -> list[Row]:
    """``count_hits`` on the candidates ``load_candidates`` reads from the same store."""
    candidates = []
    for c in load_candidates(store, plan, window):
        props = _Tagged(c.properties)
        props.event_id = c.event_id
        candidates.append(dataclasses.replace(c, properties=props))
    spy = _Spy(plan)
    out = []
    for hit in count_hits(candidates, spy, window, cur):  # type: ignore[arg-type]
        value = None if hit.value is None else float(hit.value)
        out.append((hit.conversion.name, spy.last, hit.day, value, hit.currency))
    return sorted(out)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Any]:
    """``run(plan, events, window)`` → the SQL rows, checked equal to ``count_hits``."""
    opened: list[EventStore] = []

    def runner(plan: CompiledPlan, events: list[Event], window: Window = ALL) -> list[Row]:
        folder = tmp_path / str(len(opened))
        folder.mkdir()
        store = fresh_store(folder, events)
        opened.append(store)
        got = sql_rows(store, plan, window, "GBP")
        assert got == python_rows(store, plan, window, "GBP")
        return got

    yield runner
    for store in opened:
        store.close()


def ids(rows: list[Row]) -> list[str]:
    return sorted(r[1] for r in rows)


# -- where: each kind of condition -------------------------------------------------------


def matching(run: Any, cond: Any, *props: dict[str, Any], path: str = "p") -> list[str]:
    """Which of events with these properties match ``where: {path: cond}``."""
    plan = make_plan({"name": "c", "event": "purchase", "where": {path: cond}})
    events = [ev(f"e{i}", properties=p) for i, p in enumerate(props)]
    return ids(run(plan, events))


TYPED = [{"p": 1}, {"p": 1.0}, {"p": True}, {"p": "1"}, {"p": None}, {}, {"p": [1]}, {"p": 2}]


def test_eq_tells_booleans_strings_and_numbers_apart(run: Any) -> None:
    assert matching(run, 1, *TYPED) == ["e0", "e1"]  # 1 == 1.0, never True or "1"
    assert matching(run, 1.0, *TYPED) == ["e0", "e1"]
    assert matching(run, True, *TYPED) == ["e2"]
    assert matching(run, "1", *TYPED) == ["e3"]
    assert matching(run, {"eq": 1.5}, *TYPED) == []


def test_ne_and_not_in_hold_on_missing_and_null(run: Any) -> None:
    assert matching(run, {"ne": 1}, *TYPED) == ["e2", "e3", "e4", "e5", "e6", "e7"]
    assert matching(run, {"not_in": [1, "1"]}, *TYPED) == ["e2", "e4", "e5", "e6", "e7"]
    assert matching(run, {"in": [True, 2]}, *TYPED) == ["e2", "e7"]
    assert matching(run, {"in": []}, *TYPED) == []
    assert matching(run, {"not_in": []}, *TYPED) == [f"e{i}" for i in range(8)]


def test_exists_true_and_false(run: Any) -> None:
    assert matching(run, {"exists": True}, *TYPED) == ["e0", "e1", "e2", "e3", "e4", "e6", "e7"]
    assert matching(run, {"exists": False}, *TYPED) == ["e5"]


def test_comparisons_hold_for_numbers_only(run: Any) -> None:
    props = [{"p": 5}, {"p": 5.5}, {"p": "6"}, {"p": True}, {"p": -1}, {}]
    assert matching(run, {"gt": 5}, *props) == ["e1"]
    assert matching(run, {"gte": 5}, *props) == ["e0", "e1"]
    assert matching(run, {"lt": 5.5}, *props) == ["e0", "e4"]
    assert matching(run, {"lte": 5.5, "gt": -1}, *props) == ["e0", "e1"]


def test_big_integers_compare_exactly(run: Any) -> None:
    big = 2**53  # 2**53 + 1 is the same double, but not the same integer
    props = [{"p": big}, {"p": big + 1}, {"p": 2**64}, {"p": 10**30}, {"p": -(10**30)}]
    assert matching(run, {"gt": float(big)}, *props) == ["e1", "e2", "e3"]
    assert matching(run, {"eq": float(big)}, *props) == ["e0"]
    assert matching(run, {"eq": big + 1}, *props) == ["e1"]
    assert matching(run, {"lt": -1e29}, *props) == ["e4"]
    assert matching(run, {"gte": float("inf")}, *props) == []
    assert matching(run, {"gt": float("nan")}, *props) == []


def test_paths_walk_objects_and_arrays(run: Any) -> None:
    props = [
        {"items": [{"price": 10}, {"price": 20}]},
        {"items": {"0": {"price": 10}}},  # a key "0" on an object
        {"items": [{"price": 20}]},
        {"items": "x"},
    ]
    assert matching(run, 10, *props, path="items.0.price") == ["e0", "e1"]
    assert matching(run, 20, *props, path="items.1.price") == ["e0"]
    assert matching(run, 20, *props, path="items.01.price") == ["e0"]  # Python: index 1
    assert matching(run, {"exists": True}, *props, path="items.5") == []


def test_keys_with_special_characters_are_quoted(run: Any) -> None:
    props = [{"it's": {"a/b": {"~x": 1}}}, {"it's": {"a/b": {"~x": 2}}}]
    assert matching(run, 1, *props, path="it's.a/b.~x") == ["e0"]
    odd = [{"": 1}, {"$[0]": "x'; DROP TABLE events; --"}]
    assert matching(run, 1, *odd, path="") == ["e0"]
    assert matching(run, "x'; DROP TABLE events; --", *odd, path="$[0]") == ["e1"]


def test_lifted_columns_override_properties(run: Any) -> None:
    plan = make_plan(
        {"name": "big", "event": "purchase", "where": {"value": {"gte": 40}}},
        {"name": "eur", "event": "purchase", "where": {"currency": "EUR"}},
        {"name": "nested", "event": "purchase", "where": {"order_id.x": {"exists": True}}},
    )
    events = [
        ev("a", value=40.0, properties={"value": 1}),  # the column wins
        ev("b", properties={"value": 50, "currency": "EUR"}),  # no column: the property
        ev("c", currency="USD", properties={"currency": "EUR", "order_id": {"x": 1}}),
        ev("d", order_id="o1", properties={"order_id": {"x": 1}}),  # a string has no .x
    ]
    rows = run(plan, events)
    assert [(r[0], r[1]) for r in rows] == [
        ("big", "a"),
        ("big", "b"),
        ("eur", "b"),
        ("nested", "c"),
    ]


# -- value and currency ------------------------------------------------------------------


def test_value_and_currency_rules(run: Any) -> None:
    plan = make_plan(
        {"name": "prop", "event": "purchase", "value": {"property": "total"}},
        {"name": "fixed", "event": "signup", "value": {"fixed": 5}, "currency": "USD"},
        {"name": "none", "event": "purchase", "where": {"total": {"exists": False}}},
        default_currency="EUR",
    )
    events = [
        ev("p1", properties={"total": 12.5, "currency": "SEK"}),
        ev("p2", "buy", properties={"total": "12", "currency": 3}),  # not numbers: no value
        ev("p3", "Order Completed", currency="NOK", properties={"total": 7}),
        ev("s1", "register", currency="NOK"),
        ev("n1"),
    ]
    assert [(r[0], r[1], r[3], r[4]) for r in run(plan, events)] == [
        ("fixed", "s1", 5.0, "USD"),
        ("none", "n1", None, None),
        ("prop", "n1", None, "EUR"),  # a value rule without a number keeps its currency
        ("prop", "p1", 12.5, "SEK"),
        ("prop", "p2", None, "EUR"),
        ("prop", "p3", 7.0, "NOK"),
    ]


# -- counting ----------------------------------------------------------------------------


def test_once_per_order_counts_the_first_event_of_each_order(run: Any) -> None:
    plan = make_plan(
        {"name": "p", "event": "purchase", "counting": "once_per_order", "value": {"fixed": 1}}
    )
    events = [
        ev("z-browser", minutes=0, order_id="o1"),
        ev("a-server", "Order Completed", minutes=0, order_id="o1"),  # same time: id decides
        ev("retry", minutes=5, order_id="o1"),
        ev("int", minutes=1, properties={"order_id": 5}),  # str(5) == "5": one order
        ev("str", minutes=2, order_id="5"),
        ev("bool", minutes=3, properties={"order_id": True}),
        ev("no-id-1", minutes=4),
        ev("no-id-2", minutes=4, order_id=""),
        ev("null-id", minutes=4, properties={"order_id": None}),
    ]
    got = ids(run(plan, events))
    assert got == ["a-server", "bool", "int", "no-id-1", "no-id-2", "null-id"]


def test_once_per_person_keys_on_user_then_anonymous_id(run: Any) -> None:
    plan = make_plan({"name": "l", "event": "signup", "counting": "once_per_person"})
    events = [
        ev("u1-first", "signup", 0, user_id="u1", anonymous_id="a1"),
        ev("u1-again", "register", 9, user_id="u1", anonymous_id="a2"),
        ev("a3-first", "signup", 1, anonymous_id="a3"),
        ev("a3-again", "signup", 2, user_id="", anonymous_id="a3"),
        ev("nobody-1", "signup", 3),
        ev("nobody-2", "signup", 4, user_id="", anonymous_id=""),
    ]
    assert ids(run(plan, events)) == ["a3-first", "nobody-1", "nobody-2", "u1-first"]


def test_history_before_the_window_counts_for_once_rules_only(run: Any) -> None:
    plan = make_plan(
        {"name": "order", "event": "purchase", "counting": "once_per_order"},
        {"name": "every", "event": "purchase"},
    )
    day = 24 * 60
    events = [
        ev("old", minutes=0, order_id="o1"),
        ev("dup", minutes=day, order_id="o1"),  # o1 counted the day before
        ev("new", minutes=day + 1, order_id="o2"),
        ev("late", minutes=2 * day, order_id="o3"),  # after the window
    ]
    window = Window(T0.date() + timedelta(days=1), T0.date() + timedelta(days=2))
    rows = run(plan, events, window)
    assert [(r[0], r[1]) for r in rows] == [("every", "dup"), ("every", "new"), ("order", "new")]


def test_one_event_can_count_as_several_conversions(run: Any) -> None:
    plan = make_plan(
        {"name": "a", "event": "purchase"},
        {"name": "b", "event": "purchase", "counting": "once_per_order"},
        {"name": "on alias", "event": "buy"},  # an alias: lint rejects, and it matches nothing
    )
    rows = run(plan, [ev("e1", "buy", order_id="o")])
    assert [(r[0], r[1]) for r in rows] == [("a", "e1"), ("b", "e1")]


def test_nothing_to_match_gives_none() -> None:
    assert conversions_sql(make_plan(), Window(), DUCKDB, "EUR") is None
    only_alias = make_plan({"name": "x", "event": "register"})
    assert conversions_sql(only_alias, Window(), DUCKDB, "EUR") is None


def test_plan_values_are_parameters_and_bad_paths_are_refused() -> None:
    hostile = "'; DROP TABLE events; --"
    plan = make_plan(
        {"name": hostile, "category": hostile, "event": "purchase", "where": {"p": hostile}}
    )
    query = conversions_sql(plan, Window(date(2024, 1, 1)), DUCKDB, hostile)
    assert query is not None
    sql, params = query
    assert hostile not in sql and hostile in params and not sql.rstrip().endswith(";")
    assert sql.count("?") == len(params)
    with pytest.raises(ConvtrackError, match="NUL"):
        conversions_sql(
            make_plan({"name": "x", "event": "purchase", "where": {"a\x00": 1}}),
            Window(), DUCKDB, "EUR",
        )  # fmt: skip
    with pytest.raises(ConvtrackError, match="U\\+001F"):
        conversions_sql(make_plan({"name": "a\x1fb", "event": "purchase"}), Window(), DUCKDB, "X")


# -- the property: SQL == count_hits on random data ----------------------------------------

KEYS = ["a", "b", "0", "1", "01", "value", "currency", "order_id", "", "q'k", "s/l~", "ü", "٣"]
NAMES = ["purchase", "Order Completed", "buy", "signup", "register", "ghost", "other"]
TIMES = [T0 + timedelta(hours=h, microseconds=u) for h in (0, 5, 30, 50, 75) for u in (0, 1)]
INF = float("inf")
CONVERTING = ["purchase", "purchase", "signup"]
ODD_EVENTS = ["register", "ghost", "buy"]  # aliases match nothing; ghost: undeclared
DAYS = [None, *(T0.date() + timedelta(days=d) for d in range(4))]

NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([2**53, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, -2.5, 0.1, 1e16, 2.0**53, 1e300]),
    st.floats(allow_nan=False, allow_infinity=False),
)
STRINGS = st.sampled_from(["", "1", "1.0", "2", "True", "true", "EUR", "o1", "x'y", "ü"])
SCALARS = st.one_of(st.booleans(), NUMBERS, STRINGS)
VALUES = st.recursive(
    st.none() | SCALARS,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(KEYS), kids, max_size=3)
    ),
    max_leaves=8,
)
PATHS = st.lists(st.sampled_from(KEYS), min_size=1, max_size=2).map(".".join)
BOUNDS = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, -1.0, 2.0**53, 1e20, INF, -INF, float("nan")]),
    st.floats(),
)
CHECKS = {
    "eq": SCALARS,
    "ne": SCALARS,
    "in": st.lists(SCALARS, max_size=3),
    "not_in": st.lists(SCALARS, max_size=3),
    "exists": st.booleans(),
    **{op: BOUNDS for op in ("gt", "gte", "lt", "lte")},
}


def leaves(node: Any, parts: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every (path, value) inside ``node``, the plan's way (``items.0.price``)."""
    if parts:
        yield ".".join(parts), node
    if isinstance(node, dict | list):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            yield from leaves(child, (*parts, str(key)))


@st.composite
def conversion(draw: st.DrawFn, name: str, seen: list[tuple[str, Any]]) -> dict[str, Any]:
    """A random conversion; its paths and values are often ones the events have."""
    known = st.sampled_from(seen) if seen else st.nothing()
    scalar = SCALARS | known.map(lambda pv: pv[1]).filter(
        lambda v: isinstance(v, str | int | float)
    )
    checks = {**CHECKS, "eq": scalar, "ne": scalar, "in": st.lists(scalar, max_size=3)}
    condition = st.lists(st.sampled_from(sorted(checks)), max_size=2, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: checks[k] for k in keys})
    )
    path = PATHS | known.map(lambda pv: pv[0])
    conv: dict[str, Any] = {
        "name": name,
        "event": draw(st.sampled_from(CONVERTING * 2 + ODD_EVENTS)),
        "where": draw(st.dictionaries(path, condition | scalar, max_size=2)),
        "counting": draw(st.sampled_from(["every", "once_per_order", "once_per_person"])),
    }
    value = draw(st.sampled_from(["none", "fixed", "property"]))
    if value == "fixed":
        conv["value"] = {"fixed": draw(st.sampled_from([0.0, 5.0, 12.25]))}
    elif value == "property":
        conv["value"] = {"property": draw(path)}
    if value != "none" and (currency := draw(st.sampled_from([None, "USD", ""]))) is not None:
        conv["currency"] = currency
    return conv


@st.composite
def event_lists(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(0, 16))
    event_ids = draw(st.lists(st.text("aBé_0", min_size=1, max_size=3), min_size=count,
                              max_size=count, unique=True))  # fmt: skip
    pick = st.sampled_from
    return [
        Event(
            event_id=eid,
            event_name=draw(pick(NAMES)),
            type="track",
            source="server",
            occurred_at=draw(pick(TIMES)),
            received_at=T0,
            user_id=draw(pick([None, "", "u1", "u2"])),
            anonymous_id=draw(pick([None, "", "a1", "a2"])),
            value=draw(st.none() | pick([0.0, 5.0, 40.0, 0.1234567]) | st.floats(-1e11, 1e11)),
            currency=draw(pick([None, "EUR", "USD", ""])),
            order_id=draw(pick([None, "", "o1", "o2", "1", "True", "1.0"])),
            properties=draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5)),
        )  # fmt: skip
        for eid in event_ids
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CompiledPlan, list[Event], Window]:
    """Random events, then a random plan of 1-4 conversions over them, and a window."""
    stored = draw(event_lists())
    found = {(p, repr(v)): (p, v) for e in stored for p, v in leaves(plan_properties(e)[0])}
    seen = [found[k] for k in sorted(found)]
    count = draw(st.integers(1, 4))
    names = draw(st.lists(st.sampled_from(["c1", "c'2", "ü 3", "4", "five"]), min_size=count,
                          max_size=count, unique=True))  # fmt: skip
    convs = [draw(conversion(n, seen)) for n in names]
    plan = make_plan(*convs, default_currency=draw(st.sampled_from([None, "EUR"])))
    return plan, stored, Window(draw(st.sampled_from(DAYS)), draw(st.sampled_from(DAYS)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_sql_counts_exactly_what_count_hits_counts(
    scenario: tuple[CompiledPlan, list[Event], Window],
) -> None:
    plan, stored, window = scenario
    with tempfile.TemporaryDirectory() as folder:
        store = fresh_store(Path(folder), stored)
        try:
            expected = python_rows(store, plan, window, "GBP")
            assert sql_rows(store, plan, window, "GBP") == expected
        finally:
            store.close()
