"""``convtrack conversions`` on a real DuckDB store, and its query's safety."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from report_plan import PLAN, compiled

from convtrack.cli import main
from convtrack.errors import ConvtrackError
from convtrack.events import Event
from convtrack.reports.conversions_query import candidates_sql, parse_day
from convtrack.reports.counting import Window
from convtrack.store import open_store

T0 = datetime(2024, 5, 1, 22, 30, tzinfo=UTC)


def event(event_id: str, name: str, at: datetime, **fields: Any) -> Event:
    return Event(event_id=event_id, event_name=name, type="track", source="server",
                 occurred_at=at, received_at=at, **fields)  # fmt: skip


EVENTS = [
    # One order from the browser, the server (an alias, another event_id) and a retry.
    event("b1", "purchase", T0, order_id="o-1", value=40.5, currency="EUR"),
    event("s1", "Order Completed", T0, order_id="o-1", value=40.5, currency="EUR"),
    event("r1", "Bob's Order", T0 + timedelta(hours=3), order_id="o-1", value=40.5),
    event("b2", "purchase", T0 + timedelta(hours=2), order_id="o-2", value=7, currency="USD"),
    # One person, two leads (user_id wins over anonymous_id); another person, one lead.
    event("l1", "generate_lead", T0, user_id="u1", anonymous_id="x"),
    event("l2", "generate_lead", T0 + timedelta(hours=2), user_id="u1", anonymous_id="y"),
    event("l3", "generate_lead", T0 + timedelta(hours=2), anonymous_id="z"),
    # A renewal (a property filter on the stored JSON) and a page view nothing counts.
    event("n1", "subscribe", T0, order_id="s-9", properties={"renewal": True}),
    event("pv", "page_view", T0, anonymous_id="x"),
]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    with open_store("duckdb://" + (data / "convtrack.duckdb").as_posix()) as store:
        store.migrate()
        store.append(EVENTS)
    (tmp_path / "plan.yaml").write_text(PLAN)
    monkeypatch.setenv("CONVTRACK_PLAN", str(tmp_path / "plan.yaml"))
    yield data


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> Any:
    capsys.readouterr()
    code = main(["conversions", *args, "--format", "json", "--data-dir", str(data)])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_by_category_on_a_real_store(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = run(capsys, setup, "--by", "category")
    got = {(r["category"], r["currency"]): (r["count"], r["value"]) for r in rows}
    assert got == {
        ("lead", None): (2, None),
        ("lead/form", None): (0, None),
        ("purchase", "EUR"): (1, 40.5),
        ("purchase", "USD"): (2, 12.0),  # o-2 (7 USD) + the renewal (fixed 5 USD)
        ("purchase/subscription", "USD"): (1, 5.0),
        ("purchase/subscription/renewal", "USD"): (1, 5.0),
    }
    assert rows[0] == {
        "category": "lead", "depth": 1, "conversions": 2, "currency": None, "count": 2,
        "value": None,
    }  # fmt: skip


def test_by_day_with_a_range(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = run(capsys, setup, "--by", "day", "--from", "2024-05-02", "--to", "2024-05-03")
    # On 2024-05-02 (UTC): o-2 and one new lead; o-1's retry and u1's 2nd lead counted before.
    assert [(r["day"], r["conversion"], r["count"], r["value"]) for r in rows] == [
        ("2024-05-02", "purchase", 1, 7.0),
        ("2024-05-02", "lead", 1, None),
    ]


def test_the_plan_option_and_csv(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = str(setup.parent / "plan.yaml")
    code = main(["conversions", "--plan", plan, "--format", "csv", "--data-dir", str(setup)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == "conversion,category,counting,currency,count,value"
    assert "lead,lead,once_per_person,,2," in lines


def test_bad_dates_are_refused(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conversions", "--from", "2024-05-01'; DROP", "--data-dir", str(setup)]) == 2
    assert "--from must be a date" in capsys.readouterr().err
    assert main(["conversions", "--from", "2024-05-02", "--to", "2024-05-02"]) == 2


def test_parse_day() -> None:
    assert parse_day("2024-02-29", "--from") == date(2024, 2, 29)
    assert parse_day(None, "--to") is None
    for bad in ("2024-5-1", "20240501", "2024-02-30", "2024-05-01T00:00"):
        with pytest.raises(ConvtrackError):
            parse_day(bad, "--from")


def test_the_query_is_portable_and_binds_every_value() -> None:
    query = candidates_sql(compiled(), Window(date(2024, 5, 1), date(2024, 6, 1)))
    assert query is not None
    sql, params = query
    assert "Bob" not in sql and "2024" not in sql  # names and dates travel as parameters
    assert sql.count("?") == len(params)
    assert "occurred_at < CAST(? AS TIMESTAMP WITH TIME ZONE)" in sql
    # Events before --from only for the names whose conversions count once.
    assert "(occurred_at >= CAST(? AS TIMESTAMP WITH TIME ZONE) OR event_name IN (" in sql
    history = ["Bob's Order", "Order Completed", "generate_lead", "purchase", "subscribe"]
    assert params[-len(history) :] == history
    assert params[-len(history) - 2 : -len(history)] == [
        "2024-06-01 00:00:00+00:00",
        "2024-05-01 00:00:00+00:00",
    ]
    assert sql.startswith(
        "SELECT event_id, event_name, occurred_at, user_id, anonymous_id, value, currency, "
        "order_id, properties FROM events WHERE event_name IN ("
    )


def test_rows_as_the_server_sends_them() -> None:
    from convtrack.reports.conversions_query import candidate

    row = {
        "event_id": "e", "event_name": "purchase", "occurred_at": "2024-05-01T22:30:00+00:00",
        "user_id": None, "anonymous_id": "a", "value": "40.500000", "currency": "EUR",
        "order_id": "o-1", "properties": '{"coupon": "X"}',
    }  # fmt: skip
    got = candidate(row)
    assert got.occurred_at == T0
    assert got.properties == {"coupon": "X", "value": 40.5, "currency": "EUR", "order_id": "o-1"}


def test_a_broken_plan_is_reported(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (setup.parent / "bad.yaml").write_text('version: "1"\nconversions: 3\n')
    assert main(["conversions", "--plan", str(setup.parent / "bad.yaml")]) == 2
    assert "does not lint clean" in capsys.readouterr().err
    assert main(["conversions", "--plan", str(setup.parent / "missing.yaml")]) == 2
    assert "cannot read the tracking plan" in capsys.readouterr().err
