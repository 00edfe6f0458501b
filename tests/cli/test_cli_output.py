"""Rendering query results: table, CSV, JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from convtrack.cli.output import render, table
from convtrack.store import QueryResult

RESULT = QueryResult(
    ["name", "value", "at", "day", "note"],
    [
        (
            "a, b",
            Decimal("19.990000"),
            datetime(2024, 5, 1, 12, tzinfo=UTC),
            date(2024, 5, 1),
            None,
        ),
        ('say "hi"', Decimal("-1.5"), datetime(2024, 5, 2, tzinfo=UTC), date(2024, 5, 2), "x"),
    ],
)


def test_csv_quotes_and_plain_values() -> None:
    text = render(RESULT, "csv")
    assert not text.endswith("\n")
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "value", "at", "day", "note"],
        ["a, b", "19.990000", "2024-05-01T12:00:00+00:00", "2024-05-01", ""],
        ['say "hi"', "-1.5", "2024-05-02T00:00:00+00:00", "2024-05-02", "x"],
    ]


def test_json_is_a_list_of_objects() -> None:
    assert json.loads(render(RESULT, "json")) == [
        {"name": "a, b", "value": "19.990000", "at": "2024-05-01T12:00:00+00:00",
         "day": "2024-05-01", "note": None},
        {"name": 'say "hi"', "value": "-1.5", "at": "2024-05-02T00:00:00+00:00",
         "day": "2024-05-02", "note": "x"},
    ]  # fmt: skip


def test_json_of_nothing() -> None:
    assert json.loads(render(QueryResult(["a"], []), "json")) == []


def test_table_layout() -> None:
    lines = render(RESULT, "table").splitlines()
    assert lines[0].split() == ["name", "value", "at", "day", "note"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].startswith("a, b      19.990000")
    assert lines[-1] == "(2 rows)"
    widths = {len(line.rstrip()) for line in lines[:2]}
    assert len(widths) == 1  # header and rule line up


def test_table_cells() -> None:
    text = table(["k", "v"], [["x" * 100, None]], max_width=10)
    lines = text.splitlines()
    assert lines[2].rstrip() == "x" * 10  # cut to max_width; None is blank
    assert lines[-1] == "(1 row)"
    assert table(["k"], []).splitlines() == ["k", "-", "(0 rows)"]
