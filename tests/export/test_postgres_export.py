"""``convtrack export`` from PostgreSQL: the lake the DuckDB export writes for the same events
(schema, days, rows), and incremental the same way. Spark over both lakes:
tests/attribution/test_spark.py."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from convtrack.cli import main
from convtrack.errors import ConvtrackError
from convtrack.export.stores import export_url
from convtrack.store import open_store
from convtrack.store.base import SpendRow
from journey_data import T0, Journeys, days
from pg import PgServer, start_server

JSON_COLUMNS = ("consent", "properties", "pii_hashed", "consent_decision")


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = start_server()
    yield server
    server.stop()


def journeys() -> Journeys:
    j = Journeys()
    for p in range(12):
        at = T0 - days(10 - p * 0.7)
        j.page(f"p{p}", at, gclid=f"G{p}") if p % 3 else j.page(
            f"p{p}", at, referrer="https://x.org/"
        )
        j.impression(f"p{p}", at + days(0.1), utm_source="dsp", utm_campaign="c")
        if p % 2:
            j.convert(f"p{p}", at + days(1.3), value=p * 10.125, order_id=f"o{p}")
        if p % 4 == 0:
            j.identify(f"p{p}", at + days(0.2), f"u{p % 3}")
    return j


SPEND = [
    SpendRow(T0.date() - days(i), "google_ads", "paid_search", "brand", Decimal("12.5") + i,
             "USD", 100 * i, 7 * i)
    for i in range(3)
]  # fmt: skip


@pytest.fixture
def urls(pg: PgServer, tmp_path: Path) -> dict[str, str]:
    """The same events and spend in a DuckDB file and a PostgreSQL database."""
    urls = {
        "duckdb": f"duckdb://{tmp_path / 'attr.duckdb'}",
        "postgresql": pg.url(pg.create_database()),
    }
    j = journeys()
    for url in urls.values():
        store = j.store(tmp_path, url=url)
        store.upsert_spend(SPEND, "test")
        store.rebuild_identity()
        store.close()
    return urls


def test_postgresql_writes_the_duckdb_lake(urls: dict[str, str], tmp_path: Path) -> None:
    lakes = {engine: tmp_path / engine for engine in urls}
    results = {engine: export_url(url, lakes[engine]) for engine, url in urls.items()}
    duck, pg = results["duckdb"], results["postgresql"]
    assert duck.written == pg.written and len(duck.written) >= 10
    assert duck.rows == pg.rows == len(journeys().events)
    assert duck.tables == pg.tables and pg.tables["spend"] == len(SPEND)
    assert manifest(lakes["duckdb"])["days"] == manifest(lakes["postgresql"])["days"]
    folders = [f"events/date={day}" for day in duck.written] + ["identity_people", "spend"]
    for folder in folders:
        a, b = (
            pq.read_table(lakes[e] / folder / "part-0.parquet") for e in ("duckdb", "postgresql")
        )
        assert types(a.schema) == types(b.schema), folder
        assert "pii_raw" not in b.schema.names
        assert rows(a) == rows(b), folder
    value = pq.read_schema(lakes["postgresql"] / folders[0] / "part-0.parquet").field("value")
    assert value.type == pa.decimal128(18, 6)


def test_incremental_on_postgresql_rewrites_only_changed_days(
    urls: dict[str, str], tmp_path: Path
) -> None:
    url, out = urls["postgresql"], tmp_path / "lake"
    first = export_url(url, out)
    mtimes = {day: part(out, day).stat().st_mtime_ns for day in first.written}
    again = export_url(url, out)
    assert again.written == [] and again.skipped == len(first.written)
    j = journeys()
    late = j.page("late", T0 - days(9.9))  # a late event on an exported day
    late.received_at = T0
    new = j.page("new", T0 + days(2))  # a new day
    writer = open_store(url)
    writer.append([late, new])
    writer.close()
    changed = late.occurred_at.date().isoformat()
    third = export_url(url, out)
    assert sorted(third.written) == sorted([changed, new.occurred_at.date().isoformat()])
    assert third.rows == pq.read_table(part(out, changed)).num_rows + 1
    for day, mtime in mtimes.items():
        if day != changed:
            assert part(out, day).stat().st_mtime_ns == mtime, day


def part(out: Path, day: str) -> Path:
    return out / "events" / f"date={day}" / "part-0.parquet"


def manifest(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "manifest.json").read_text()))


def types(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    """Names and Arrow types (nullability aside: DuckDB's writer also marks a column required
    when its statistics saw no null, and Spark reads every Parquet column as nullable)."""
    return [(f.name, f.type) for f in schema]


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows in a stable order; JSON columns parsed (jsonb spells the same value its way);
    spend's ``imported_at`` left out (each store imported it at its own time)."""
    key = "event_id" if "event_id" in table.schema.names else table.schema.names[0]
    out = []
    for row in table.sort_by(key).to_pylist():
        row.pop("imported_at", None)
        for name in JSON_COLUMNS:
            if row.get(name) is not None:
                row[name] = json.loads(row[name])
        out.append(row)
    return out


def test_the_cli_exports_a_postgresql_store(
    urls: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "cli-lake"
    args = [
        "export",
        "--out",
        str(lake),
        "--store",
        urls["postgresql"],
        "--data-dir",
        str(tmp_path),
    ]
    assert main([*args, "--from", "2024-05-15"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("events: 5 day(s) written (15 rows)") and "spend 3 rows" in out, out
    assert main(args) == 0
    assert ", 5 unchanged;" in capsys.readouterr().out


def export_held(url: str, out: str, started: Any, release: Any) -> None:
    """A real export in another process, held at its first day until ``release`` is set."""

    def hold(done: int, total: int, day: str) -> None:
        if done == 0 and day:
            started.set()
            release.wait(60)

    export_url(url, Path(out), progress=hold)


def test_one_export_of_a_database_at_a_time_across_processes(
    urls: dict[str, str], tmp_path: Path
) -> None:
    url, held_out = urls["postgresql"], tmp_path / "held"
    context = multiprocessing.get_context("spawn")
    started, release = context.Event(), context.Event()
    other = context.Process(target=export_held, args=(url, str(held_out), started, release))
    other.start()
    try:
        assert started.wait(60), "the other process's export did not start"
        with pytest.raises(ConvtrackError) as busy:
            export_url(url, tmp_path / "mine")  # another folder: still one export at a time
        assert (busy.value.code, busy.value.status) == ("export_running", 409)
        assert not (tmp_path / "mine").exists()
    finally:
        release.set()
        other.join(60)
    assert other.exitcode == 0
    assert export_url(url, tmp_path / "mine").rows == len(journeys().events)  # its lock is gone
    assert manifest(held_out)["days"] == manifest(tmp_path / "mine")["days"]
